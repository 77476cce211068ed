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
import os, subprocess, sys, time, select
img, b = sys.argv[1:3]
log = open(os.path.join(b, "syslinux-boot.log"), "wb")
p = subprocess.Popen([os.environ.get("BT86", "./bt86"), "-m", "128", "--hda", img, "-snapshot", "--display", "none", "--serial", "stdio"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=open(os.path.join(b, "syslinux-boot.stderr"), "wb"))
buf = b""
def wait_for(s, t):
    global buf
    end = time.time() + t
    while time.time() < end:
        if s in buf:
            return True
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if r:
            d = os.read(p.stdout.fileno(), 65536)
            if not d:
                return s in buf
            buf += d
            log.write(d); log.flush()
    return s in buf
t0 = time.time()
ok = wait_for(b"SYSLINUX", 60)
print(("PASS" if ok else "FAIL") + " boot_syslinux_loader_started")
ok = ok and wait_for(b"bt86-guest: init started", 400)
print(("PASS" if ok else "FAIL") + " boot_syslinux_linux_init_started (%.0f s)" % (time.time() - t0))
if ok and wait_for(b"bt86-guest: shell on the console", 60):
    time.sleep(1)
    p.stdin.write(b"poweroff -f\n"); p.stdin.flush()
    try:
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        rc = None
    print(("PASS" if rc == 0 else "FAIL") + " boot_syslinux_acpi_poweroff")
else:
    print("FAIL boot_syslinux_acpi_poweroff: no shell")
if p.poll() is None:
    p.kill()
PYEOF
