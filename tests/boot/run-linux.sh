#!/bin/sh
# tests/boot/run-linux.sh - the Linux boot test of issue 7: each reference
# guest flavour (686, 686-pae) boots with direct kernel boot under every
# engine (bt and interp; BT86_LINUX_ENGINES overrides), and tests/boot/linux_boot.py drives the serial console:
# shell prompt, uname, /proc/cpuinfo (family 6, our flags), a clean dmesg,
# the IDE disk through ata_piix with the host-computed checksums, sleep 2 vs
# wall time, date vs the host, a file written + synced and found in the image
# after poweroff -f, and the ACPI power-off itself (exit status 0).
# The guest comes from Debian's archive (scripts/make-guest.sh); without
# network access the test prints SKIP with the reason.
ROOT=${BT86_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$ROOT" || exit 1
BT86=${BT86_BIN:-./bt86}
G=build/guest
if [ ! -f "$G/vmlinuz-686" ] || [ ! -f "$G/vmlinuz-686-pae" ] || [ ! -f "$G/disk.img" ]; then
    if ! bash scripts/make-guest.sh > build/guest-build.log 2>&1; then
        echo "SKIP linux-boot: the reference guest could not be built from Debian's archive ($(tail -1 build/guest-build.log))"
        exit 0
    fi
fi
rc=0
for flavour in 686 686-pae; do
    for engine in ${BT86_LINUX_ENGINES:-bt interp}; do
        python3 tests/boot/linux_boot.py "$BT86" "$G/vmlinuz-$flavour" "$G/initrd-$flavour.gz" "$G/disk.img" \
            "$flavour" --engine $engine --sha256-file "$G/disk.sha256" --timeout 900 || rc=1
    done
done
exit $rc
