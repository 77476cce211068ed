#!/bin/sh
# tests/boot/run-cdrom.sh - CD-ROM boot through our BIOS: an ISO 9660 image
# made here (tests/boot/mkiso.py) with Debian's isolinux (apt-get download
# into build/deb, never committed) as the El Torito no-emulation boot image,
# the reference kernel and initramfs. int 19h finds no hard disk, reads the
# boot catalog through ATAPI, starts isolinux with DL=E0h; isolinux reads
# the CD through int 13h AH=42h; Linux reaches the guest's init and
# `poweroff -f` powers off through ACPI. SKIP lines when inputs are missing.
cd "$(dirname "$0")/../.." || exit 1
BT86=${BT86_BIN:-./bt86}
export BT86
B=build/tests/boot
D=build/deb
K=build/guest/vmlinuz-686
I=build/guest/initrd-686.gz
mkdir -p "$B" "$D"
if [ ! -f "$K" ] || [ ! -f "$I" ]; then
    echo "SKIP boot_cdrom: no reference guest in build/guest (scripts/make-guest.sh)"; exit 0
fi
ISOBIN="$D/root/usr/lib/ISOLINUX/isolinux.bin"
LDL="$D/root/usr/lib/syslinux/modules/bios/ldlinux.c32"
if [ ! -f "$ISOBIN" ] || [ ! -f "$LDL" ]; then
    (cd "$D" && apt-get download isolinux syslinux-common >/dev/null 2>&1)
    for f in "$D"/isolinux*.deb "$D"/syslinux-common*.deb; do [ -f "$f" ] && dpkg-deb -x "$f" "$D/root"; done
fi
if [ ! -f "$ISOBIN" ] || [ ! -f "$LDL" ]; then
    echo "SKIP boot_cdrom: needs isolinux and syslinux-common (apt-get download)"; exit 0
fi
W="$B/iso"
rm -rf "$W"; mkdir -p "$W"
cp "$ISOBIN" "$W/isolinux.bin"; cp "$LDL" "$W/ldlinux.c32"; cp "$K" "$W/vmlinuz"; cp "$I" "$W/initrd.gz"
. tests/boot/syslinux-disk.sh           # write_syslinux_cfg
write_syslinux_cfg "$W/isolinux.cfg"
if ! python3 tests/boot/mkiso.py "$B/boot.iso" "$W/isolinux.bin" --boot-info-table \
        "$W/ldlinux.c32" "$W/isolinux.cfg" "$W/vmlinuz" "$W/initrd.gz"; then
    echo "FAIL boot_cdrom_iso_image"; exit 1
fi
echo "PASS boot_cdrom_iso_image"

python3 - "$B/boot.iso" "$B" <<'PYEOF'
import os, sys
sys.path.insert(0, os.path.join(os.getcwd(), "tests/boot"))
from bootlib import Console, boot_and_poweroff
iso, b = sys.argv[1:3]
con = Console([os.environ.get("BT86", "./bt86"), "-m", "128", "--cdrom", iso, "--display", "none", "--serial", "stdio"],
              os.path.join(b, "cdrom-boot.log"), os.path.join(b, "cdrom-boot.stderr"))
boot_and_poweroff(con, "boot_cdrom", b"ISOLINUX", "boot_cdrom_isolinux_started")
PYEOF
