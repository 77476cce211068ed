#!/bin/sh
# tests/boot/run-bios.sh - our BIOS's services, tested from a boot sector of
# ours (tests/boot/bios-test.asm) on an 8 MiB disk image built here: int 13h
# CHS/EDD, int 15h memory map, int 1Ah time vs the host, PCI BIOS, int 10h,
# int 16h, ACPI tables and S5 power-off. Plus: the "nothing bootable"
# message on serial and the debug port. Prints PASS/FAIL lines.
cd "$(dirname "$0")/../.." || exit 1
B=build/tests/boot
mkdir -p "$B"
BT86=${BT86_BIN:-./bt86}
[ -x "$BT86" ] || { echo "FAIL boot_bios: ./bt86 is not built"; exit 1; }

H=$(date -u +%H)
H2=$(printf %02d $(( (1$H - 100 + 1) % 24 )))
if ! nasm -f bin -DNHD=1 -DRAM_MB=64 -DYEAR=0x$(date -u +%Y) -DMONTH=0x$(date -u +%m) -DDAY=0x$(date -u +%d) \
        -DHOUR=0x$H -DHOUR2=0x$H2 -o "$B/bios-test.img" tests/boot/bios-test.asm; then
    echo "FAIL boot_bios_assemble"; exit 1
fi
truncate -s 8M "$B/bios-test.img"
rm -f "$B/bios-serial.txt"
timeout 120 "$BT86" -m 64 --hda "$B/bios-test.img" --display none --debugcon --serial "file:$B/bios-serial.txt" \
    2>"$B/bios-test.err" >/dev/null
rc=$?
grep -a -E '^(PASS|FAIL) ' "$B/bios-test.err"
n=$(grep -a -c '^PASS bios_' "$B/bios-test.err")
if [ "$n" -ge 30 ]; then echo "PASS boot_bios_all_checks_ran ($n)"; else echo "FAIL boot_bios_all_checks_ran: only $n PASS lines"; fi
if [ $rc -eq 0 ] && grep -a -q "powering off through ACPI S5" "$B/bios-test.err"; then
    echo "PASS boot_bios_acpi_poweroff_exit0"
else
    echo "FAIL boot_bios_acpi_poweroff_exit0: bt86 exit status $rc (see $B/bios-test.err)"
fi
if grep -a -q "bt86 BIOS" "$B/bios-serial.txt" 2>/dev/null && grep -a -q "ata0-0: hard disk, 8 MiB" "$B/bios-serial.txt"; then
    echo "PASS boot_bios_banner_and_drive_on_serial"
else
    echo "FAIL boot_bios_banner_and_drive_on_serial"
fi

# two disks: the same image as hda and hdb (both through a snapshot overlay)
if nasm -f bin -DNHD=2 -DRAM_MB=32 -DYEAR=0x$(date -u +%Y) -DMONTH=0x$(date -u +%m) -DDAY=0x$(date -u +%d) \
        -DHOUR=0x$H -DHOUR2=0x$H2 -o "$B/bios-test2.img" tests/boot/bios-test.asm; then
    truncate -s 8M "$B/bios-test2.img"
    timeout 120 "$BT86" -m 32 --hda "$B/bios-test2.img" --hdb "$B/bios-test2.img" -snapshot --display none --debugcon \
        --serial none 2>"$B/bios-test2.err" >/dev/null
    rc=$?
    if [ $rc -eq 0 ] && ! grep -a -q '^FAIL' "$B/bios-test2.err" && grep -a -q '^PASS bios_int13_42_second_disk_81h' "$B/bios-test2.err" \
            && grep -a -q '^PASS bios_int15_e820_map' "$B/bios-test2.err"; then
        echo "PASS boot_bios_two_disks_32mib"
    else
        echo "FAIL boot_bios_two_disks_32mib (exit $rc):"; grep -a '^FAIL' "$B/bios-test2.err"
    fi
else
    echo "FAIL boot_bios_assemble_two_disks"
fi

# nothing bootable: a clear message on serial and port E9h, then bt86 stops
rm -f "$B/noboot-serial.txt"
timeout 60 "$BT86" -m 16 --display none --debugcon --serial "file:$B/noboot-serial.txt" 2>"$B/noboot.err" >/dev/null
rc=$?
if [ $rc -eq 0 ] && grep -a -q "No bootable device found" "$B/noboot-serial.txt" && grep -a -q "No bootable device found" "$B/noboot.err"; then
    echo "PASS boot_bios_no_bootable_device_message"
else
    echo "FAIL boot_bios_no_bootable_device_message (exit $rc)"
fi

# a disk without the 55AA signature: its own message, then the same stop
dd if=/dev/zero of="$B/blank.img" bs=1M count=1 2>/dev/null
rm -f "$B/blank-serial.txt"
timeout 60 "$BT86" -m 16 --hda "$B/blank.img" --display none --serial "file:$B/blank-serial.txt" 2>/dev/null >/dev/null
if grep -a -q "no boot signature" "$B/blank-serial.txt" && grep -a -q "No bootable device found" "$B/blank-serial.txt"; then
    echo "PASS boot_bios_disk_without_signature_message"
else
    echo "FAIL boot_bios_disk_without_signature_message"
fi

# CD-ROM: our own El Torito no-emulation image on an ISO (tests/boot/mkiso.py)
if nasm -f bin -o "$B/cd-test.bin" tests/boot/cd-test.asm && python3 tests/boot/mkiso.py "$B/cd-test.iso" "$B/cd-test.bin"; then
    timeout 60 "$BT86" -m 16 --cdrom "$B/cd-test.iso" --display none --debugcon --serial none 2>"$B/cd-test.err" >/dev/null
    rc=$?
    grep -a -E '^(PASS|FAIL) ' "$B/cd-test.err"
    n=$(grep -a -c '^PASS cd_' "$B/cd-test.err")
    if [ $rc -eq 0 ] && [ "$n" -eq 5 ]; then echo "PASS boot_bios_cdrom_el_torito"; else echo "FAIL boot_bios_cdrom_el_torito (exit $rc, $n checks passed)"; fi
else
    echo "FAIL boot_bios_cdrom_el_torito: cannot build the ISO"
fi
