/* monitor/bios_image.h - the embedded image of our BIOS (bios/). */
#ifndef BT86_BIOS_IMAGE_H
#define BT86_BIOS_IMAGE_H
#include <stdint.h>
#include <stddef.h>
extern const uint8_t bt86_bios_image[];
extern const uint8_t bt86_bios_image_end[];
static inline size_t bt86_bios_size(void) { return (size_t)(bt86_bios_image_end - bt86_bios_image); }
#endif
