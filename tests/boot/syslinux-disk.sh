# tests/boot/syslinux-disk.sh - sourced by run-syslinux.sh, run-seabios.sh and
# run-cdrom.sh (write_syslinux_cfg only):
# the syslinux hard-disk image the first two boot. make_syslinux_disk TEST IMG builds
# IMG (64 MiB): syslinux's MBR code and one active FAT16 (LBA) partition at
# sector 2048 holding ldlinux.sys, syslinux.cfg, the reference kernel $K and
# initramfs $I. syslinux comes from Debian's archive (apt-get download, into
# $D). Prints "SKIP TEST: ..." and returns 2 when a tool is missing, "FAIL
# TEST_image: ..." and returns 1 when a step fails, returns 0 when built.
# write_syslinux_cfg FILE: the (iso/sys)linux configuration every boot test
# uses: serial console, the kernel /vmlinuz with /initrd.gz, no prompt.
write_syslinux_cfg() {
    cat > "$1" <<CFG
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND console=ttyS0 bt86.nodisk cryptomgr.notests noisapnp quiet
CFG
}

make_syslinux_disk() {
    test_name=$1 img=$2
    if [ ! -x "$D/root/usr/bin/syslinux" ]; then
        (cd "$D" && apt-get download syslinux syslinux-common >/dev/null 2>&1)
        for f in "$D"/syslinux*.deb; do [ -f "$f" ] && dpkg-deb -x "$f" "$D/root"; done
    fi
    syslinux_bin="$D/root/usr/bin/syslinux"
    mbr="$D/root/usr/lib/syslinux/mbr/mbr.bin"
    if [ ! -x "$syslinux_bin" ] || [ ! -f "$mbr" ] || ! command -v mkfs.vfat >/dev/null || ! command -v mcopy >/dev/null; then
        echo "SKIP $test_name: needs syslinux (apt-get download), mkfs.vfat and mtools"; return 2
    fi
    part="$img.part"
    cfg="$img.cfg"
    rm -f "$img" "$part"
    truncate -s 63M "$part"
    mkfs.vfat -F 16 -h 2048 -n BT86BOOT "$part" >/dev/null || { echo "FAIL ${test_name}_image: mkfs.vfat"; return 1; }
    write_syslinux_cfg "$cfg"
    MTOOLS_SKIP_CHECK=1 mcopy -i "$part" "$K" ::/vmlinuz && MTOOLS_SKIP_CHECK=1 mcopy -i "$part" "$I" ::/initrd.gz &&
        MTOOLS_SKIP_CHECK=1 mcopy -i "$part" "$cfg" ::/syslinux.cfg || { echo "FAIL ${test_name}_image: mcopy"; return 1; }
    "$syslinux_bin" --install "$part" || { echo "FAIL ${test_name}_image: syslinux --install"; return 1; }
    truncate -s 64M "$img"
    dd if="$mbr" of="$img" bs=440 count=1 conv=notrunc 2>/dev/null
    python3 - "$img" <<'PYEOF'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    start, count = 2048, 63 * 2048
    entry = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x0E, b"\xfe\xff\xff", start, count)
    f.seek(446); f.write(entry + b"\0" * 48)
    f.seek(510); f.write(b"\x55\xaa")
PYEOF
    dd if="$part" of="$img" bs=1M seek=1 conv=notrunc 2>/dev/null
    rm -f "$part"
    return 0
}
