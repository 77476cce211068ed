/* devices/i8042.h - 8042 keyboard controller with a PS/2 keyboard and mouse.
 *
 * Owns: the controller (ports 0x60 data, 0x64 status/command), its command
 * byte and output port, and the two PS/2 devices behind it. IRQ1 (keyboard)
 * and IRQ12 (mouse) go out through irq_lines; the A20 gate and the CPU reset
 * line (output port bits 1 and 0) go out through callbacks.
 *
 * Wiring (the board):
 *   k = i8042_new(&irq1_line, &irq12_line);
 *   i8042_set_a20_handler(k, fn, opaque);     fn(opaque, enabled)
 *   i8042_set_reset_handler(k, fn, opaque);   fn(opaque): reset the machine
 *   bus_map_io(bus, 0x60, 1, &i8042_data_ops, k);
 *   bus_map_io(bus, 0x64, 1, &i8042_cmd_ops, k);
 * The output port starts with A20 enabled (bit 1 = 1, as QEMU does); the A20
 * callback is called only when the bit changes (commands 0xD1, 0xDD, 0xDF).
 *
 * Host input (front-end):
 *   i8042_key_event(k, keycode, pressed): keycode is the key's scancode-set-2
 *   make code: 0x00-0x83 for single-byte codes, 0xE000 | code for keys with
 *   the E0 prefix (e.g. 0xE075 cursor up, 0xE014 right Ctrl), or one of
 *   I8042_KEY_PRINTSCREEN / I8042_KEY_PAUSE. i8042_key_from_hid() converts a
 *   USB HID keyboard usage (= SDL_Scancode) to this keycode. Auto-repeat is
 *   the front-end's job (send repeated presses).
 *   i8042_mouse_event(k, dx, dy, buttons): relative motion in screen
 *   direction (dx > 0 right, dy > 0 DOWN, like SDL's xrel/yrel; converted to
 *   PS/2's y-up here), buttons bit 0 left, bit 1 right, bit 2 middle.
 *   i8042_mouse_wheel(k, dz): dz > 0 scrolls up (away from the user, like
 *   SDL's wheel.y); reported only once the guest enabled IntelliMouse (ID 3).
 */
#ifndef BT86_I8042_H
#define BT86_I8042_H
#include <stdbool.h>
#include <stdint.h>
#include "devices/bus.h"
#include "devices/irq.h"

struct i8042;

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT  0x64

#define I8042_KEY_PRINTSCREEN 0xE07C    /* sends E0 12 E0 7C / E0 F0 7C E0 F0 12 */
#define I8042_KEY_PAUSE       0xE11477  /* sends E1 14 77 E1 F0 14 F0 77, no break */

typedef void (*i8042_a20_fn)(void *opaque, bool enabled);
typedef void (*i8042_reset_fn)(void *opaque);

struct i8042 *i8042_new(const struct irq_line *kbd_irq, const struct irq_line *aux_irq);
void i8042_free(struct i8042 *k);
/* Power-on state of the controller and both devices (no callbacks). */
void i8042_reset(struct i8042 *k);
void i8042_set_a20_handler(struct i8042 *k, i8042_a20_fn fn, void *opaque);
void i8042_set_reset_handler(struct i8042 *k, i8042_reset_fn fn, void *opaque);

/* Port access: port is 0x60 or 0x64 (only bit 2 matters). */
uint8_t i8042_read(struct i8042 *k, uint16_t port);
void i8042_write(struct i8042 *k, uint16_t port, uint8_t val);
extern const struct bus_ops i8042_data_ops;   /* map at 0x60, len 1 */
extern const struct bus_ops i8042_cmd_ops;    /* map at 0x64, len 1 */

void i8042_key_event(struct i8042 *k, uint32_t keycode, bool pressed);
void i8042_mouse_event(struct i8042 *k, int dx, int dy, unsigned buttons);
void i8042_mouse_wheel(struct i8042 *k, int dz);
/* Both at once (one packet), in the order of monitor/display_sdl.h's mouse
 * callback: dx right, dy down, dz up, buttons. */
void i8042_mouse_input(struct i8042 *k, int dx, int dy, int dz, unsigned buttons);
/* USB HID usage (page 7; equals SDL_Scancode) -> keycode above, 0 if none. */
uint32_t i8042_key_from_hid(unsigned usage);
/* Keyboard LEDs as last set by the guest (bit 0 Scroll, 1 Num, 2 Caps). */
unsigned i8042_kbd_leds(const struct i8042 *k);
/* The output port's A20 bit (for the board's initial state). */
bool i8042_a20_enabled(const struct i8042 *k);

#endif
