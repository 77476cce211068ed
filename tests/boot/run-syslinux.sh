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
. tests/boot/syslinux-disk.sh
IMG="$B/syslinux.img"
make_syslinux_disk boot_syslinux "$IMG"
case $? in 0) ;; 2) exit 0 ;; *) exit 1 ;; esac
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
