/* monitor/display_sdl.h - the SDL2 window: VGA output, keyboard, mouse.
 *
 * Owns: one SDL window showing vga_render() output scaled to the window
 * (aspect kept, letterboxed), its title "bt86 - <engine> - <guest MIPS>",
 * translation of SDL keyboard events to PC scancode set 2 and of mouse
 * events to relative PS/2-style motion, the mouse grab and the F12
 * screenshot key. It never touches devices directly: input goes to the
 * callbacks the board registers.
 *
 * Key codes given to the key callback are the i8042's (devices/i8042.h):
 * the set-2 make code, 0x00-0x83 for single-byte codes, 0xE000 | code for
 * E0-prefixed keys (0xE075 cursor up, 0xE014 right Ctrl, 0xE05A keypad
 * Enter), 0xE07C for Print Screen and 0xE11477 for Pause. Held keys repeat
 * as repeated presses; keys still down when the window loses focus are
 * released. F12 is not sent to the guest: it saves a screenshot PNG.
 * Mouse: a click in the window grabs the mouse (the click is not sent);
 * Ctrl+Alt releases it. While grabbed, motion goes to the mouse callback
 * as (dx, dy) in screen direction (dy > 0 down), wheel as dz > 0 up,
 * buttons as bit 0 left, 1 right, 2 middle.
 *
 * Threading: SDL wants every call on the thread that created the window;
 * the run loop calls display_sdl_poll() every ~10-20 ms of host time.
 */
#ifndef BT86_DISPLAY_SDL_H
#define BT86_DISPLAY_SDL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vga;
struct display_sdl;

typedef void (*display_key_fn)(void *opaque, uint32_t keycode, bool pressed);
typedef void (*display_mouse_fn)(void *opaque, int dx, int dy, int dz, unsigned buttons);

/* True if a window can be opened: $DISPLAY or $WAYLAND_DISPLAY is set (or
 * $SDL_VIDEODRIVER names a driver explicitly, e.g. "dummy" for tests)
 * and SDL's video subsystem initialises. False means: use --display none. */
bool display_sdl_available(void);

/* Open the window for `vga`. Screenshots go to screenshot_dir (NULL: the
 * current directory) as bt86-screenshot-N.png. NULL + message on error. */
struct display_sdl *display_sdl_new(struct vga *vga, const char *screenshot_dir,
                                    char *err, size_t errlen);
void display_sdl_free(struct display_sdl *d);

void display_sdl_set_key_handler(struct display_sdl *d, display_key_fn fn, void *opaque);
void display_sdl_set_mouse_handler(struct display_sdl *d, display_mouse_fn fn, void *opaque);
/* Title info from the run loop: engine name ("interp", "bt", ...) and guest
 * speed in millions of instructions per second (< 0: unknown). */
void display_sdl_set_status(struct display_sdl *d, const char *engine, double mips);
const char *display_sdl_title(const struct display_sdl *d);

/* Handle pending events and redraw if the VGA picture changed. Returns
 * false once the user closed the window (the machine should quit). */
bool display_sdl_poll(struct display_sdl *d);
/* Path of the last screenshot saved with F12 ("" if none). */
const char *display_sdl_last_screenshot(const struct display_sdl *d);

/* SDL_Scancode (= USB HID keyboard usage) -> key code above; 0 if none. */
uint32_t display_sdl_keycode(unsigned sdl_scancode);

#endif
