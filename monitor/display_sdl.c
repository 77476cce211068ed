/* monitor/display_sdl.c - SDL2 front-end (see display_sdl.h).
 *
 * Owns: the SDL window, renderer and streaming texture, the set of keys
 * currently held (to release them on focus loss), the grab state and the
 * title. Invariants: the texture always has the size of the last frame
 * drawn; the window is resized only when the guest's mode size changes;
 * nothing here runs unless display_sdl_new succeeded.
 *
 * Scancode set 2 values: IBM PS/2 keyboard technical reference and
 * Microsoft's "Keyboard Scan Code Specification" (USB HID usage -> set 2
 * table); SDL_Scancode values equal the HID usages (page 7).
 */
#include "monitor/display_sdl.h"
#include "devices/vga.h"
#include "devices/png.h"
#include <SDL.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY_PRINTSCREEN 0xE07Cu
#define KEY_PAUSE       0xE11477u

struct display_sdl {
    struct vga *vga;             /* what we show                                   */
    SDL_Window *win;             /* the window                                     */
    SDL_Renderer *ren;           /* its renderer                                   */
    SDL_Texture *tex;            /* streaming XRGB texture, tex_w x tex_h          */
    int tex_w, tex_h;            /* texture size                                   */
    int mode_w, mode_h;          /* last frame size (window resized on change)     */
    uint64_t drawn_gen;          /* vga generation on screen                       */
    bool drawn_once;             /* a frame was presented                          */
    display_key_fn key_fn;       /* keyboard callback                              */
    void *key_opaque;            /* its argument                                   */
    display_mouse_fn mouse_fn;   /* mouse callback                                 */
    void *mouse_opaque;          /* its argument                                   */
    unsigned buttons;            /* mouse buttons held (bit 0 L, 1 R, 2 M)         */
    bool grabbed;                /* relative mouse mode on                         */
    uint8_t held[SDL_NUM_SCANCODES / 8];   /* SDL scancodes sent as pressed        */
    char title[160];             /* current title                                  */
    char engine[32];             /* engine name shown in the title                 */
    double mips;                 /* guest MIPS shown in the title (< 0 unknown)    */
    char shot_dir[512];          /* screenshot directory                           */
    char last_shot[640];         /* last screenshot path                           */
    unsigned shot_n;             /* next screenshot number to try                  */
};

/* ---- scancode table ------------------------------------------------------ */

uint32_t display_sdl_keycode(unsigned sc)
{
    static const uint16_t letters[26] = {              /* A..Z */
        0x1C, 0x32, 0x21, 0x23, 0x24, 0x2B, 0x34, 0x33, 0x43, 0x3B, 0x42, 0x4B, 0x3A,
        0x31, 0x44, 0x4D, 0x15, 0x2D, 0x1B, 0x2C, 0x3C, 0x2A, 0x1D, 0x22, 0x35, 0x1A,
    };
    static const uint16_t digits[10] = {               /* 1..9, 0 */
        0x16, 0x1E, 0x26, 0x25, 0x2E, 0x36, 0x3D, 0x3E, 0x46, 0x45,
    };
    static const uint16_t fkeys[12] = {                /* F1..F12 */
        0x05, 0x06, 0x04, 0x0C, 0x03, 0x0B, 0x83, 0x0A, 0x01, 0x09, 0x78, 0x07,
    };
    static const uint16_t fkeys2[12] = {               /* F13..F24 */
        0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0x40, 0x48, 0x50, 0x57, 0x5F,
    };
    if (sc >= SDL_SCANCODE_A && sc <= SDL_SCANCODE_Z) return letters[sc - SDL_SCANCODE_A];
    if (sc >= SDL_SCANCODE_1 && sc <= SDL_SCANCODE_0) return digits[sc - SDL_SCANCODE_1];
    if (sc >= SDL_SCANCODE_F1 && sc <= SDL_SCANCODE_F12) return fkeys[sc - SDL_SCANCODE_F1];
    if (sc >= SDL_SCANCODE_F13 && sc <= SDL_SCANCODE_F24) return fkeys2[sc - SDL_SCANCODE_F13];
    switch (sc) {
    case SDL_SCANCODE_RETURN:       return 0x5A;
    case SDL_SCANCODE_ESCAPE:       return 0x76;
    case SDL_SCANCODE_BACKSPACE:    return 0x66;
    case SDL_SCANCODE_TAB:          return 0x0D;
    case SDL_SCANCODE_SPACE:        return 0x29;
    case SDL_SCANCODE_MINUS:        return 0x4E;
    case SDL_SCANCODE_EQUALS:       return 0x55;
    case SDL_SCANCODE_LEFTBRACKET:  return 0x54;
    case SDL_SCANCODE_RIGHTBRACKET: return 0x5B;
    case SDL_SCANCODE_BACKSLASH:    return 0x5D;
    case SDL_SCANCODE_NONUSHASH:    return 0x5D;
    case SDL_SCANCODE_SEMICOLON:    return 0x4C;
    case SDL_SCANCODE_APOSTROPHE:   return 0x52;
    case SDL_SCANCODE_GRAVE:        return 0x0E;
    case SDL_SCANCODE_COMMA:        return 0x41;
    case SDL_SCANCODE_PERIOD:       return 0x49;
    case SDL_SCANCODE_SLASH:        return 0x4A;
    case SDL_SCANCODE_CAPSLOCK:     return 0x58;
    case SDL_SCANCODE_PRINTSCREEN:  return KEY_PRINTSCREEN;
    case SDL_SCANCODE_SCROLLLOCK:   return 0x7E;
    case SDL_SCANCODE_PAUSE:        return KEY_PAUSE;
    case SDL_SCANCODE_INSERT:       return 0xE070;
    case SDL_SCANCODE_HOME:         return 0xE06C;
    case SDL_SCANCODE_PAGEUP:       return 0xE07D;
    case SDL_SCANCODE_DELETE:       return 0xE071;
    case SDL_SCANCODE_END:          return 0xE069;
    case SDL_SCANCODE_PAGEDOWN:     return 0xE07A;
    case SDL_SCANCODE_RIGHT:        return 0xE074;
    case SDL_SCANCODE_LEFT:         return 0xE06B;
    case SDL_SCANCODE_DOWN:         return 0xE072;
    case SDL_SCANCODE_UP:           return 0xE075;
    case SDL_SCANCODE_NUMLOCKCLEAR: return 0x77;
    case SDL_SCANCODE_KP_DIVIDE:    return 0xE04A;
    case SDL_SCANCODE_KP_MULTIPLY:  return 0x7C;
    case SDL_SCANCODE_KP_MINUS:     return 0x7B;
    case SDL_SCANCODE_KP_PLUS:      return 0x79;
    case SDL_SCANCODE_KP_ENTER:     return 0xE05A;
    case SDL_SCANCODE_KP_1:         return 0x69;
    case SDL_SCANCODE_KP_2:         return 0x72;
    case SDL_SCANCODE_KP_3:         return 0x7A;
    case SDL_SCANCODE_KP_4:         return 0x6B;
    case SDL_SCANCODE_KP_5:         return 0x73;
    case SDL_SCANCODE_KP_6:         return 0x74;
    case SDL_SCANCODE_KP_7:         return 0x6C;
    case SDL_SCANCODE_KP_8:         return 0x75;
    case SDL_SCANCODE_KP_9:         return 0x7D;
    case SDL_SCANCODE_KP_0:         return 0x70;
    case SDL_SCANCODE_KP_PERIOD:    return 0x71;
    case SDL_SCANCODE_NONUSBACKSLASH: return 0x61;
    case SDL_SCANCODE_APPLICATION:  return 0xE02F;
    case SDL_SCANCODE_POWER:        return 0xE037;
    case SDL_SCANCODE_MUTE:         return 0xE023;
    case SDL_SCANCODE_VOLUMEUP:     return 0xE032;
    case SDL_SCANCODE_VOLUMEDOWN:   return 0xE021;
    case SDL_SCANCODE_INTERNATIONAL1: return 0x51;
    case SDL_SCANCODE_INTERNATIONAL2: return 0x13;
    case SDL_SCANCODE_INTERNATIONAL3: return 0x6A;
    case SDL_SCANCODE_INTERNATIONAL4: return 0x64;
    case SDL_SCANCODE_INTERNATIONAL5: return 0x67;
    case SDL_SCANCODE_LCTRL:        return 0x14;
    case SDL_SCANCODE_LSHIFT:       return 0x12;
    case SDL_SCANCODE_LALT:         return 0x11;
    case SDL_SCANCODE_LGUI:         return 0xE01F;
    case SDL_SCANCODE_RCTRL:        return 0xE014;
    case SDL_SCANCODE_RSHIFT:       return 0x59;
    case SDL_SCANCODE_RALT:         return 0xE011;
    case SDL_SCANCODE_RGUI:         return 0xE027;
    case SDL_SCANCODE_AUDIONEXT:    return 0xE04D;
    case SDL_SCANCODE_AUDIOPREV:    return 0xE015;
    case SDL_SCANCODE_AUDIOSTOP:    return 0xE03B;
    case SDL_SCANCODE_AUDIOPLAY:    return 0xE034;
    case SDL_SCANCODE_AUDIOMUTE:    return 0xE023;
    case SDL_SCANCODE_SLEEP:        return 0xE03F;
    default:                        return 0;
    }
}

/* ---- availability --------------------------------------------------------- */

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

bool display_sdl_available(void)
{
    bool forced = env_set("SDL_VIDEODRIVER");
    if (!forced && !env_set("DISPLAY") && !env_set("WAYLAND_DISPLAY")) return false;
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) return false;
    /* Without an explicit request, SDL's headless drivers are not a display. */
    const char *drv = SDL_GetCurrentVideoDriver();
    bool ok = drv && (forced || (strcmp(drv, "offscreen") != 0 && strcmp(drv, "dummy") != 0));
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
    return ok;
}

/* ---- window ---------------------------------------------------------------- */

static void display_update_title(struct display_sdl *d, const char *engine, double mips)
{
    char t[160];
    if (engine != d->engine) snprintf(d->engine, sizeof d->engine, "%s", engine ? engine : "?");
    d->mips = mips;
    engine = d->engine;
    if (mips >= 0)
        snprintf(t, sizeof t, "bt86 - %s - %.1f MIPS%s", engine ? engine : "?", mips,
                 d->grabbed ? " (Ctrl+Alt releases the mouse)" : "");
    else
        snprintf(t, sizeof t, "bt86 - %s - ? MIPS%s", engine ? engine : "?",
                 d->grabbed ? " (Ctrl+Alt releases the mouse)" : "");
    if (strcmp(t, d->title) != 0) {
        snprintf(d->title, sizeof d->title, "%s", t);
        if (d->win) SDL_SetWindowTitle(d->win, d->title);
    }
}

struct display_sdl *display_sdl_new(struct vga *vga, const char *screenshot_dir,
                                    char *err, size_t errlen)
{
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) {
        if (err && errlen) snprintf(err, errlen, "SDL video init failed: %s", SDL_GetError());
        return NULL;
    }
    struct display_sdl *d = calloc(1, sizeof *d);
    if (!d) {
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->vga = vga;
    d->shot_n = 1;
    snprintf(d->shot_dir, sizeof d->shot_dir, "%s", screenshot_dir && *screenshot_dir ? screenshot_dir : ".");
    d->win = SDL_CreateWindow("bt86", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
                              720, 400, SDL_WINDOW_RESIZABLE);
    if (d->win) d->ren = SDL_CreateRenderer(d->win, -1, 0);
    if (d->win && !d->ren) d->ren = SDL_CreateRenderer(d->win, -1, SDL_RENDERER_SOFTWARE);
    if (!d->win || !d->ren) {
        if (err && errlen) snprintf(err, errlen, "cannot open the SDL window: %s", SDL_GetError());
        display_sdl_free(d);
        return NULL;
    }
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "nearest");
    display_update_title(d, "?", -1);
    return d;
}

void display_sdl_free(struct display_sdl *d)
{
    if (!d) return;
    if (d->grabbed) SDL_SetRelativeMouseMode(SDL_FALSE);
    if (d->tex) SDL_DestroyTexture(d->tex);
    if (d->ren) SDL_DestroyRenderer(d->ren);
    if (d->win) SDL_DestroyWindow(d->win);
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
    free(d);
}

void display_sdl_set_key_handler(struct display_sdl *d, display_key_fn fn, void *opaque)
{
    d->key_fn = fn;
    d->key_opaque = opaque;
}

void display_sdl_set_mouse_handler(struct display_sdl *d, display_mouse_fn fn, void *opaque)
{
    d->mouse_fn = fn;
    d->mouse_opaque = opaque;
}

void display_sdl_set_status(struct display_sdl *d, const char *engine, double mips)
{
    display_update_title(d, engine, mips);
}

const char *display_sdl_title(const struct display_sdl *d) { return d->title; }
const char *display_sdl_last_screenshot(const struct display_sdl *d) { return d->last_shot; }

/* ---- drawing ---------------------------------------------------------------- */

/* Window size for a mode: small modes doubled, 2:1-wide modes (640x200,
 * 640x350...) stretched vertically so the picture is roughly 4:3. */
static void display_window_size(int w, int h, int *ww, int *wh)
{
    int s = (w <= 400) ? 2 : 1;
    *ww = w * s;
    *wh = h * s;
    if (*wh * 2 <= *ww) *wh *= 2;
}

static void display_draw(struct display_sdl *d)
{
    struct vga_frame f;
    vga_render(d->vga, &f);
    d->drawn_gen = f.generation;
    if (!f.pixels || f.width <= 0 || f.height <= 0) return;
    if (!d->tex || d->tex_w != f.width || d->tex_h != f.height) {
        if (d->tex) SDL_DestroyTexture(d->tex);
        d->tex = SDL_CreateTexture(d->ren, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING,
                                   f.width, f.height);
        if (!d->tex) return;
        d->tex_w = f.width;
        d->tex_h = f.height;
    }
    if (f.width != d->mode_w || f.height != d->mode_h) {
        int ww, wh;
        display_window_size(f.width, f.height, &ww, &wh);
        SDL_SetWindowSize(d->win, ww, wh);
        SDL_RenderSetLogicalSize(d->ren, ww, wh);
        d->mode_w = f.width;
        d->mode_h = f.height;
    }
    SDL_UpdateTexture(d->tex, NULL, f.pixels, f.stride * 4);
    SDL_SetRenderDrawColor(d->ren, 0, 0, 0, 255);
    SDL_RenderClear(d->ren);
    SDL_RenderCopy(d->ren, d->tex, NULL, NULL);
    SDL_RenderPresent(d->ren);
    d->drawn_once = true;
}

static void display_screenshot(struct display_sdl *d)
{
    char path[640];
    for (unsigned tries = 0; tries < 10000; tries++, d->shot_n++) {
        snprintf(path, sizeof path, "%s/bt86-screenshot-%u.png", d->shot_dir, d->shot_n);
        if (access(path, F_OK) != 0) break;
    }
    char err[700];
    if (vga_screenshot(d->vga, path, err, sizeof err) != 0) {
        fprintf(stderr, "bt86: screenshot failed: %s\n", err);
        return;
    }
    d->shot_n++;
    snprintf(d->last_shot, sizeof d->last_shot, "%s", path);
    fprintf(stderr, "bt86: screenshot saved to %s\n", path);
}

/* ---- input --------------------------------------------------------------------- */

static void display_key(struct display_sdl *d, unsigned sc, bool pressed)
{
    uint32_t code = display_sdl_keycode(sc);
    if (!code || sc >= SDL_NUM_SCANCODES) return;
    bool was = d->held[sc / 8] & (1u << (sc % 8));
    if (!pressed && !was) return;                   /* never a break without a make */
    if (pressed) d->held[sc / 8] |= (uint8_t)(1u << (sc % 8));
    else d->held[sc / 8] &= (uint8_t)~(1u << (sc % 8));
    if (code == KEY_PAUSE && !pressed) return;      /* Pause has no break code */
    if (d->key_fn) d->key_fn(d->key_opaque, code, pressed);
}

static void display_release_all(struct display_sdl *d)
{
    for (unsigned sc = 0; sc < SDL_NUM_SCANCODES; sc++)
        if (d->held[sc / 8] & (1u << (sc % 8))) display_key(d, sc, false);
}

static void display_set_grab(struct display_sdl *d, bool on)
{
    if (d->grabbed == on) return;
    d->grabbed = on;
    SDL_SetRelativeMouseMode(on ? SDL_TRUE : SDL_FALSE);
    display_update_title(d, d->engine, d->mips);
}

static unsigned sdl_button_bit(uint8_t b)
{
    switch (b) {
    case SDL_BUTTON_LEFT:   return 1;
    case SDL_BUTTON_RIGHT:  return 2;
    case SDL_BUTTON_MIDDLE: return 4;
    default:                return 0;
    }
}

bool display_sdl_poll(struct display_sdl *d)
{
    bool running = true;
    bool redraw = false;
    SDL_Event e;
    while (SDL_PollEvent(&e)) {
        switch (e.type) {
        case SDL_QUIT:
            running = false;
            break;
        case SDL_WINDOWEVENT:
            if (e.window.event == SDL_WINDOWEVENT_FOCUS_LOST) {
                display_release_all(d);
                display_set_grab(d, false);
            } else if (e.window.event == SDL_WINDOWEVENT_EXPOSED ||
                       e.window.event == SDL_WINDOWEVENT_SIZE_CHANGED) {
                redraw = true;
            } else if (e.window.event == SDL_WINDOWEVENT_CLOSE) {
                running = false;
            }
            break;
        case SDL_KEYDOWN:
        case SDL_KEYUP: {
            bool down = e.type == SDL_KEYDOWN;
            unsigned sc = (unsigned)e.key.keysym.scancode;
            if (sc == SDL_SCANCODE_F12) {
                if (down && !e.key.repeat) display_screenshot(d);
                break;
            }
            display_key(d, sc, down);
            /* Ctrl+Alt releases the mouse grab (QEMU-like). */
            SDL_Keymod m = SDL_GetModState();
            if (down && d->grabbed && (m & KMOD_CTRL) && (m & KMOD_ALT))
                display_set_grab(d, false);
            break;
        }
        case SDL_MOUSEMOTION:
            if (d->grabbed && d->mouse_fn)
                d->mouse_fn(d->mouse_opaque, e.motion.xrel, e.motion.yrel, 0, d->buttons);
            break;
        case SDL_MOUSEBUTTONDOWN:
        case SDL_MOUSEBUTTONUP: {
            if (!d->grabbed) {
                if (e.type == SDL_MOUSEBUTTONDOWN && e.button.button == SDL_BUTTON_LEFT)
                    display_set_grab(d, true);     /* the grabbing click is not sent */
                break;
            }
            unsigned bit = sdl_button_bit(e.button.button);
            if (e.type == SDL_MOUSEBUTTONDOWN) d->buttons |= bit;
            else d->buttons &= ~bit;
            if (bit && d->mouse_fn) d->mouse_fn(d->mouse_opaque, 0, 0, 0, d->buttons);
            break;
        }
        case SDL_MOUSEWHEEL:
            if (d->grabbed && d->mouse_fn && e.wheel.y) {
                int dz = e.wheel.direction == SDL_MOUSEWHEEL_FLIPPED ? -e.wheel.y : e.wheel.y;
                d->mouse_fn(d->mouse_opaque, 0, 0, dz, d->buttons);
            }
            break;
        default:
            break;
        }
    }
    if (redraw || !d->drawn_once || vga_generation(d->vga) != d->drawn_gen)
        display_draw(d);
    return running;
}
