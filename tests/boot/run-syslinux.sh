#!/bin/sh
# tests/boot/run-syslinux.sh - hard-disk boot through our BIOS: an MBR disk
# image built here from Debian's syslinux packages (fetched with
# `apt-get download` into build/deb, never committed): syslinux's mbr.bin,
# one FAT16 partition at 1 MiB with ldlinux.sys, the reference kernel and
# initramfs. int 19h loads the MBR, syslinux reads everything through int
# 13h (EDD), the kernel reaches the guest's init and `poweroff -f` powers
# off through ACPI. SKIP lines when the packages or the guest are missing.
cd "$(dirname "$0")/../.." || exit 1
BT86=${BT86_BIN:-./bt86}
export BT86
B=build/tests/boot
D=build/deb
K=build/guest/vmlinuz-686
I=build/guest/initrd-686.gz
mkdir -p "$B" "$D"
if [ ! -f "$K" ] || [ ! -f "$I" ]; then
    echo "SKIP boot_syslinux: no reference guest in build/guest (scripts/make-guest.sh)"; exit 0
fi
if [ ! -x "$D/root/usr/bin/syslinux" ]; then
    (cd "$D" && apt-get download syslinux syslinux-common >/dev/null 2>&1)
    for f in "$D"/syslinux*.deb; do [ -f "$f" ] && dpkg-deb -x "$f" "$D/root"; done
fi
SYSLINUX="$D/root/usr/bin/syslinux"
MBR="$D/root/usr/lib/syslinux/mbr/mbr.bin"
if [ ! -x "$SYSLINUX" ] || [ ! -f "$MBR" ] || ! command -v mkfs.vfat >/dev/null || ! command -v mcopy >/dev/null; then
    echo "SKIP boot_syslinux: needs syslinux (apt-get download), mkfs.vfat and mtools"; exit 0
fi

IMG="$B/syslinux.img"
PART="$B/syslinux-part.img"
rm -f "$IMG" "$PART"
truncate -s 63M "$PART"
mkfs.vfat -F 16 -h 2048 -n BT86BOOT "$PART" >/dev/null || { echo "FAIL boot_syslinux_image: mkfs.vfat"; exit 1; }
cat > "$B/syslinux.cfg" <<CFG
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND console=ttyS0 bt86.nodisk cryptomgr.notests noisapnp quiet
CFG
MTOOLS_SKIP_CHECK=1 mcopy -i "$PART" "$K" ::/vmlinuz && MTOOLS_SKIP_CHECK=1 mcopy -i "$PART" "$I" ::/initrd.gz &&
    MTOOLS_SKIP_CHECK=1 mcopy -i "$PART" "$B/syslinux.cfg" ::/syslinux.cfg || { echo "FAIL boot_syslinux_image: mcopy"; exit 1; }
"$SYSLINUX" --install "$PART" || { echo "FAIL boot_syslinux_image: syslinux --install"; exit 1; }
# the disk: MBR code + one active FAT16 (LBA) partition at sector 2048
truncate -s 64M "$IMG"
dd if="$MBR" of="$IMG" bs=440 count=1 conv=notrunc 2>/dev/null
python3 - "$IMG" <<'PYEOF'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    start, count = 2048, 63 * 2048
    entry = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x0E, b"\xfe\xff\xff", start, count)
    f.seek(446); f.write(entry + b"\0" * 48)
    f.seek(510); f.write(b"\x55\xaa")
PYEOF
dd if="$PART" of="$IMG" bs=1M seek=1 conv=notrunc 2>/dev/null
rm -f "$PART"
echo "PASS boot_syslinux_image"

python3 - "$IMG" "$B" <<'PYEOF'
import os, sys
sys.path.insert(0, os.path.join(os.getcwd(), "tests/boot"))
from bootlib import Console, boot_and_poweroff
img, b = sys.argv[1:3]
con = Console([os.environ.get("BT86", "./bt86"), "-m", "128", "--hda", img, "-snapshot", "--display", "none", "--serial", "stdio"],
              os.path.join(b, "syslinux-boot.log"), os.path.join(b, "syslinux-boot.stderr"))
boot_and_poweroff(con, "boot_syslinux", b"SYSLINUX", "boot_syslinux_loader_started")
PYEOF
