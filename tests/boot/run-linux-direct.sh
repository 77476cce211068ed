#!/bin/sh
# tests/boot/run-linux-direct.sh - Linux direct boot through our BIOS
# (--kernel/--initrd/--append: boot protocol 2.x, setup code in real mode on
# our int 10h/13h/15h services, then the kernel), the reference guest's init
# marker, then `poweroff -f` typed on the serial console must power the
# machine off through our ACPI tables (bt86 exits 0), after a `reboot -f`
# (reset, POST again, kernel reloaded) has booted it a second time. Also: clear errors for
# a file that is not a bzImage and for an initrd that cannot fit.
# Needs the reference guest (build/guest, made by scripts/make-guest.sh):
# SKIP lines without it.
cd "$(dirname "$0")/../.." || exit 1
BT86=${BT86_BIN:-./bt86}
export BT86
B=build/tests/boot
mkdir -p "$B"
K=build/guest/vmlinuz-686
I=build/guest/initrd-686.gz

# error paths (no guest needed)
if [ -f "$K" ]; then
    head -c 100000 "$K" > "$B/truncated-bzimage"
    if "$BT86" --kernel "$B/truncated-bzimage" --display none --serial none 2>"$B/trunc.err" >/dev/null; then
        echo "FAIL linux_direct_truncated_rejected: bt86 accepted it"
    elif grep -q "truncated" "$B/trunc.err"; then
        echo "PASS linux_direct_truncated_rejected"
    else
        echo "FAIL linux_direct_truncated_rejected: $(cat "$B/trunc.err")"
    fi
    head -c $((40 * 1024 * 1024)) /dev/zero > "$B/big-initrd"
    if "$BT86" -m 48 --kernel "$K" --initrd "$B/big-initrd" --display none --serial none 2>"$B/bigird.err" >/dev/null; then
        echo "FAIL linux_direct_initrd_too_large_rejected: bt86 accepted it"
    elif grep -q "initrd of" "$B/bigird.err"; then
        echo "PASS linux_direct_initrd_too_large_rejected"
    else
        echo "FAIL linux_direct_initrd_too_large_rejected: $(cat "$B/bigird.err")"
    fi
    rm -f "$B/big-initrd"
fi

if [ ! -f "$K" ] || [ ! -f "$I" ]; then
    echo "SKIP linux_direct_boot: no reference guest in build/guest (scripts/make-guest.sh)"
    exit 0
fi
python3 - "$K" "$I" "$B" <<'PYEOF'
import os, sys, time
sys.path.insert(0, os.path.join(os.getcwd(), "tests/boot"))
from bootlib import Console
k, i, b = sys.argv[1:4]
con = Console([os.environ.get("BT86", "./bt86"), "-m", "128", "--kernel", k, "--initrd", i,
               "--append", "console=ttyS0 bt86.nodisk cryptomgr.notests noisapnp quiet",
               "--display", "none", "--serial", "stdio"],
              os.path.join(b, "linux-direct.log"), os.path.join(b, "linux-direct.stderr"))
t0 = time.time()
ok = con.wait_for(b"bt86-guest: init started", 300)
print(("PASS" if ok else "FAIL") + " linux_direct_boot_init_started (%.0f s)" % (time.time() - t0), flush=True)
if ok and con.wait_for(b"bt86-guest: shell on the console", 60):
    # reboot: the machine resets, POST runs again and board_fw reloads the kernel
    time.sleep(1)
    con.send("reboot -f\n")
    ok = con.wait_for(b"bt86 BIOS", 60) and con.wait_for(b"bt86-guest: init started", 300)
    print(("PASS" if ok else "FAIL") + " linux_direct_reboot_boots_again", flush=True)
    ok = ok and con.wait_for(b"bt86-guest: shell on the console", 60)
if ok:
    rc = con.poweroff(60)
    if rc == 0:
        print("PASS linux_direct_acpi_poweroff")
    else:
        print("FAIL linux_direct_acpi_poweroff: bt86 %s" % ("still running" if rc is None else "exit %d" % rc))
else:
    print("FAIL linux_direct_acpi_poweroff: no shell")
con.close()
PYEOF
