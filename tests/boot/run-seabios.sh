#!/bin/sh
# tests/boot/run-seabios.sh - the alternative-firmware path: `--bios` with
# Debian's SeaBIOS (/usr/share/seabios/bios.bin from the seabios package; a
# test-time input only, never a runtime dependency) boots the same syslinux
# MBR disk as run-syslinux.sh (built the same way, into its own file so the
# two tests never share an image) to the guest's shell, and the isolinux CD
# of run-cdrom.sh to the guest's init.
# What SeaBIOS needs from the board is in docs/seabios.md: the i440FX PAM
# shadow RAM (it copies itself to RAM and write-protects it), RAM size from
# CMOS, and no fw_cfg device on QEMU's ports.
# Checks, on SeaBIOS's debug console (port 0x402, --debugcon to stderr): its
# banner, RAM size 128 MiB from CMOS, its init relocated into RAM, the boot
# menu prompt and "Booting from Hard Disk", no warnings; on COM1: syslinux's
# banner, the guest's init and shell, its RAM size; then `reboot -f` resets
# the machine and SeaBIOS boots the disk again from its ROM (PAM reset).
# SKIP lines when SeaBIOS, the syslinux packages or the guest are missing.
cd "$(dirname "$0")/../.." || exit 1
BT86=${BT86_BIN:-./bt86}
export BT86
SEABIOS=${SEABIOS_BIN:-/usr/share/seabios/bios.bin}
export SEABIOS
B=build/tests/boot
D=build/deb
K=build/guest/vmlinuz-686
I=build/guest/initrd-686.gz
mkdir -p "$B" "$D"
if [ ! -f "$SEABIOS" ]; then
    echo "SKIP boot_seabios: no $SEABIOS (apt-get install seabios to run this test)"; exit 0
fi
if [ ! -f "$K" ] || [ ! -f "$I" ]; then
    echo "SKIP boot_seabios: no reference guest in build/guest (scripts/make-guest.sh)"; exit 0
fi
# the disk of run-syslinux.sh (tests/boot/syslinux-disk.sh)
. tests/boot/syslinux-disk.sh
IMG="$B/seabios-syslinux.img"
make_syslinux_disk boot_seabios "$IMG"
case $? in 0) ;; 2) exit 0 ;; *) exit 1 ;; esac

python3 - "$IMG" "$B" <<'PYEOF'
import os, re, sys, time
sys.path.insert(0, os.path.join(os.getcwd(), "tests/boot"))
from bootlib import Console
img, b = sys.argv[1:3]
errf = os.path.join(b, "seabios-boot.stderr")
con = Console([os.environ["BT86"], "--bios", os.environ["SEABIOS"], "-m", "128", "--hda", img, "-snapshot",
               "--display", "none", "--serial", "stdio", "--debugcon"],
              os.path.join(b, "seabios-boot.log"), errf)

def check(name, ok, why=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok or not why else ": " + why), flush=True)
    return ok

def debug_text():
    return open(errf, errors="replace").read()

t0 = time.time()
ok = check("boot_seabios_syslinux_started", con.wait_for(b"SYSLINUX", 60), "no syslinux banner on COM1")
ok = ok and con.wait_for(b"bt86-guest: init started", 400)
check("boot_seabios_linux_init_started (%.0f s)" % (time.time() - t0), ok)
ok = ok and con.wait_for(b"bt86-guest: shell on the console", 60)
check("boot_seabios_shell", ok)
# the RAM SeaBIOS reported (E820 from its CMOS sizing): 128 MiB less what
# the kernel keeps
if ok:
    out = con.command("grep MemTotal /proc/meminfo") or ""
    m = re.search(r"MemTotal:\s+(\d+) kB", out)
    check("boot_seabios_memtotal", m and 100000 < int(m.group(1)) <= 131072, repr(out))
    # a reboot: the reset puts PAM back to ROM, SeaBIOS runs its POST again
    # from the ROM and boots the disk a second time
    before = debug_text().count("Booting from Hard Disk...")
    con.send("reboot -f\n")
    ok = con.wait_for(b"SYSLINUX", 90)
    check("boot_seabios_reboot", ok and debug_text().count("Booting from Hard Disk...") == before + 1,
          "SeaBIOS did not boot the disk again after reboot -f")
con.close()
dbg = debug_text()
# SeaBIOS's own progress on its debug console, in the order it prints it
steps = [("boot_seabios_banner", "SeaBIOS (version"),
         ("boot_seabios_ram_from_cmos", "RamSize: 0x08000000 [cmos]"),
         ("boot_seabios_shadow_ram", "Relocating init from"),
         ("boot_seabios_boot_menu", "Press ESC for boot menu."),
         ("boot_seabios_hard_disk", "Booting from Hard Disk...")]
pos = 0
for name, text in steps:
    i = dbg.find(text, pos)
    if check(name, i >= 0, "%r not in %s after offset %d" % (text, errf, pos)):
        pos = i
check("boot_seabios_no_warnings", "WARNING" not in dbg, "SeaBIOS warned: see " + errf)
PYEOF

# the isolinux CD of run-cdrom.sh: SeaBIOS's ATAPI driver and El Torito on
# our IDE controller, up to the guest's init
ISOBIN="$D/root/usr/lib/ISOLINUX/isolinux.bin"
LDL="$D/root/usr/lib/syslinux/modules/bios/ldlinux.c32"
if [ ! -f "$ISOBIN" ] || [ ! -f "$LDL" ]; then
    (cd "$D" && apt-get download isolinux syslinux-common >/dev/null 2>&1)
    for f in "$D"/isolinux*.deb "$D"/syslinux-common*.deb; do [ -f "$f" ] && dpkg-deb -x "$f" "$D/root"; done
fi
if [ ! -f "$ISOBIN" ] || [ ! -f "$LDL" ]; then
    echo "SKIP boot_seabios_cdrom: needs isolinux and syslinux-common (apt-get download)"; exit 0
fi
W="$B/seabios-iso"
rm -rf "$W"; mkdir -p "$W"
cp "$ISOBIN" "$W/isolinux.bin"; cp "$LDL" "$W/ldlinux.c32"; cp "$K" "$W/vmlinuz"; cp "$I" "$W/initrd.gz"
write_syslinux_cfg "$W/isolinux.cfg"
if ! python3 tests/boot/mkiso.py "$B/seabios.iso" "$W/isolinux.bin" --boot-info-table \
        "$W/ldlinux.c32" "$W/isolinux.cfg" "$W/vmlinuz" "$W/initrd.gz"; then
    echo "FAIL boot_seabios_cdrom: mkiso.py"; exit 1
fi
rm -rf "$W"
python3 - "$B/seabios.iso" "$B" <<'PYEOF'
import os, sys, time
sys.path.insert(0, os.path.join(os.getcwd(), "tests/boot"))
from bootlib import Console
iso, b = sys.argv[1:3]
errf = os.path.join(b, "seabios-cdrom.stderr")
con = Console([os.environ["BT86"], "--bios", os.environ["SEABIOS"], "-m", "128", "--cdrom", iso,
               "--display", "none", "--serial", "stdio", "--debugcon"],
              os.path.join(b, "seabios-cdrom.log"), errf)
t0 = time.time()
ok = con.wait_for(b"ISOLINUX", 60) and "Booting from DVD/CD..." in open(errf, errors="replace").read()
ok = ok and con.wait_for(b"bt86-guest: init started", 400)
print(("PASS" if ok else "FAIL") + " boot_seabios_cdrom_linux_init_started (%.0f s)" % (time.time() - t0), flush=True)
con.close()
PYEOF
