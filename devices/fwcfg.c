/* devices/fwcfg.c - firmware configuration ports (see fwcfg.h for the
 * protocol). State: the items and the current selection/offset. */
#include "devices/fwcfg.h"
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

struct fwcfg {
    struct bus *bus;                  /* where the ports are mapped        */
    uint8_t *item[FWCFG_NKEYS];       /* item bytes (owned), NULL = empty  */
    size_t len[FWCFG_NKEYS];          /* item lengths                      */
    unsigned sel;                     /* selected key                      */
    size_t off;                       /* next byte of the selected item    */
};

static uint8_t next_byte(struct fwcfg *fw)
{
    if (fw->sel >= FWCFG_NKEYS || fw->off >= fw->len[fw->sel]) { fw->off++; return 0; }
    return fw->item[fw->sel][fw->off++];
}

uint32_t fwcfg_port_read(struct fwcfg *fw, uint16_t port, unsigned size)
{
    if (port != FWCFG_PORT_DATA) return port == FWCFG_PORT_SEL ? fw->sel : 0xFFFFFFFFu;
    uint32_t v = 0;
    for (unsigned i = 0; i < size && i < 4; i++) v |= (uint32_t)next_byte(fw) << (8 * i);
    return v;
}

void fwcfg_port_write(struct fwcfg *fw, uint16_t port, uint32_t val, unsigned size)
{
    (void)size;
    if (port == FWCFG_PORT_SEL) { fw->sel = val & 0xFFFF; fw->off = 0; }
}

static uint32_t bus_rd(void *o, uint32_t off, unsigned size) { return fwcfg_port_read(o, (uint16_t)(FWCFG_PORT_SEL + off), size); }
static void bus_wr(void *o, uint32_t off, uint32_t val, unsigned size) { fwcfg_port_write(o, (uint16_t)(FWCFG_PORT_SEL + off), val, size); }
static const struct bus_ops fwcfg_ops = { "fwcfg", bus_rd, bus_wr, false };

struct fwcfg *fwcfg_new(struct bus *bus)
{
    struct fwcfg *fw = calloc(1, sizeof *fw);
    if (!fw) return NULL;
    if (bus && bus_map_io(bus, FWCFG_PORT_SEL, FWCFG_PORT_LEN, &fwcfg_ops, fw) != 0) {
        fprintf(stderr, "fwcfg: ports 0x%x-0x%x are taken\n", FWCFG_PORT_SEL, FWCFG_PORT_SEL + FWCFG_PORT_LEN - 1);
        free(fw);
        return NULL;
    }
    fw->bus = bus;
    uint32_t one = 1;
    if (fwcfg_set(fw, FWCFG_SIGNATURE, "BT86", 4) || fwcfg_set(fw, FWCFG_VERSION, &one, 4)) {
        fwcfg_free(fw);
        return NULL;
    }
    return fw;
}

void fwcfg_free(struct fwcfg *fw)
{
    if (!fw) return;
    if (fw->bus) bus_unmap_io(fw->bus, FWCFG_PORT_SEL, FWCFG_PORT_LEN);
    for (int i = 0; i < FWCFG_NKEYS; i++) free(fw->item[i]);
    free(fw);
}

int fwcfg_set(struct fwcfg *fw, unsigned key, const void *data, size_t len)
{
    if (key >= FWCFG_NKEYS) return -1;
    uint8_t *p = NULL;
    if (len) {
        p = malloc(len);
        if (!p) return -1;
        memcpy(p, data, len);
    }
    free(fw->item[key]);
    fw->item[key] = p;
    fw->len[key] = len;
    return 0;
}
