#!/usr/bin/env python3
"""tests/boot/mkiso.py - a minimal ISO 9660 image with an El Torito
no-emulation boot entry (ECMA-119; El Torito 1.0), enough for isolinux or a
boot image of ours: every file in the root directory (8.3 upper-case names,
";1"), one path table, a boot catalog. With --boot-info-table the boot file
gets isolinux's boot information table at offset 8 (PVD LBA, file LBA,
length, checksum of the 32-bit words from offset 64).

Usage: mkiso.py OUT.iso BOOTFILE [--boot-info-table] [--load-sectors N] FILE...
(BOOTFILE is also one of the FILEs.)"""
import os, struct, sys, time

S = 2048

def both16(v): return struct.pack("<H", v) + struct.pack(">H", v)
def both32(v): return struct.pack("<I", v) + struct.pack(">I", v)

def dirrec(name, lba, size, is_dir):
    t = time.gmtime()
    date = bytes([t.tm_year - 1900, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, 0])
    n = len(name)
    rec = struct.pack("<BB", 0, 0) + both32(lba) + both32(size) + date + bytes([2 if is_dir else 0, 0, 0]) + both16(1) + bytes([n]) + name
    if len(rec) % 2: rec += b"\0"
    return bytes([len(rec)]) + rec[1:]

def iso_name(path):
    base = os.path.basename(path).upper()
    stem, _, ext = base.partition(".")
    return (stem[:8] + "." + ext[:3] + ";1").encode()

def main():
    a = sys.argv[1:]
    out, boot = a[0], a[1]
    bit = "--boot-info-table" in a
    load = 4
    if "--load-sectors" in a:
        load = int(a[a.index("--load-sectors") + 1])
    files = [f for i, f in enumerate(a[2:], 2) if not f.startswith("--") and a[i - 1] != "--load-sectors"]
    if boot not in files: files.insert(0, boot)
    data = {f: open(f, "rb").read() for f in files}
    # layout: 16 PVD, 17 boot record, 18 terminator, 19 L table, 20 M table, 21 root, 22 catalog, 23.. files
    lba = {}
    nxt = 23
    for f in files:
        lba[f] = nxt
        nxt += (len(data[f]) + S - 1) // S or 1
    total = nxt
    if bit:
        b = bytearray(data[boot])
        csum = 0
        for off in range(64, len(b) - 3, 4):
            csum = (csum + struct.unpack_from("<I", b, off)[0]) & 0xFFFFFFFF
        struct.pack_into("<IIII", b, 8, 16, lba[boot], len(b), csum)
        data[boot] = bytes(b)
    root = dirrec(b"\0", 21, S, True) + dirrec(b"\1", 21, S, True)
    for f in files:
        root += dirrec(iso_name(f), lba[f], len(data[f]), False)
    assert len(root) <= S
    pvd = bytearray(S)
    pvd[0:7] = b"\x01CD001\x01"
    pvd[8:40] = b"BT86".ljust(32)
    pvd[40:72] = b"BT86_TEST".ljust(32)
    pvd[80:88] = both32(total)
    pvd[120:124] = both16(1); pvd[124:128] = both16(1); pvd[128:132] = both16(S)
    pvd[132:140] = both32(10)                       # path table size
    struct.pack_into("<I", pvd, 140, 19); struct.pack_into(">I", pvd, 148, 20)
    pvd[156:190] = dirrec(b"\0", 21, S, True)
    pvd[190:318] = b" " * 128
    pvd[813:830] = b"0" * 16 + b"\0"; pvd[830:847] = b"0" * 16 + b"\0"
    pvd[847:864] = b"0" * 16 + b"\0"; pvd[864:881] = b"0" * 16 + b"\0"
    pvd[881] = 1
    br = bytearray(S)
    br[0:7] = b"\x00CD001\x01"
    br[7:39] = b"EL TORITO SPECIFICATION".ljust(32, b"\0")
    struct.pack_into("<I", br, 0x47, 22)
    term = bytearray(S); term[0:7] = b"\xffCD001\x01"
    lpt = bytearray(S); lpt[0:10] = struct.pack("<BBIH", 1, 0, 21, 1) + b"\0\0"
    mpt = bytearray(S); mpt[0:10] = struct.pack(">BBIH", 1, 0, 21, 1) + b"\0\0"
    cat = bytearray(S)
    val = bytearray(32); val[0] = 1; val[4:28] = b"BT86".ljust(24, b"\0"); val[30] = 0x55; val[31] = 0xAA
    s = sum(struct.unpack("<16H", bytes(val))) & 0xFFFF
    struct.pack_into("<H", val, 28, (-s) & 0xFFFF)
    cat[0:32] = val
    cat[32:64] = struct.pack("<BBHBBHI", 0x88, 0, 0, 0, 0, load, lba[boot]).ljust(32, b"\0")
    with open(out, "wb") as o:
        o.write(b"\0" * 16 * S + pvd + br + term + lpt + mpt + root.ljust(S, b"\0") + cat)
        for f in files:
            d = data[f]
            o.write(d + b"\0" * ((-len(d)) % S if d else S))

if __name__ == "__main__":
    main()
