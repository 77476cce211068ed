#!/bin/bash
# make-guest.sh - builds bt86's reference guest under build/guest/ (never committed):
#   vmlinuz-686, vmlinuz-686-pae      bzImages of Debian 12's linux-image-*-686{,-pae}-unsigned:i386
#   initrd-686.gz, initrd-686-pae.gz  cpio newc + gzip: busybox (busybox-static:i386), /init
#                                     (scripts/guest/init) and the IDE disk + vfat modules of the
#                                     SAME kernel package, in /etc/bt86/modules load order
#   disk.img                          16 MiB, MBR with one FAT16 partition at 1 MiB holding
#                                     hello.txt and data.bin (known contents)
#   disk.sha256                       sha256sum lines of those files (paths as the guest sees
#                                     them under /mnt), disk.offset: partition byte offset
#   release-686, release-686-pae      the kernels' uname -r
#   the initramfs also holds /bench/cpumix and /bench/osbench, the guest benchmarks
#   (bench/guest/*.c, built by bench/guest/build.sh into build/bench/guest/; bench/macro.py
#   runs them); when they cannot be built (no gcc -m32) the guest is built without them
# Everything comes from Debian's archive with `apt-get download` (cached in build/guest/cache);
# tools (cpio, gzip, dpkg-deb, mkfs.fat, mtools, objcopy) are Debian packages, installed when
# missing. Idempotent: a second run with nothing changed downloads nothing and rebuilds nothing.
# Usage: scripts/make-guest.sh [--force | --update]   (env: GUEST_DIR, default build/guest)
#   (default: when every artifact is there and newer than this script and the /init template,
#    print "up to date" without asking apt anything; --update re-resolves the packages with
#    apt and rebuilds what changed; --force rebuilds everything from the cached .debs)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # `sh script` works too
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="${GUEST_DIR:-$root/build/guest}"
cache="$out/cache"
flavours="686 686-pae"
force=0
update=0
case "${1:-}" in
    --force) force=1 ;;
    --update) update=1 ;;
    "") ;;
    *) echo "usage: $0 [--force | --update]" >&2; exit 2 ;;
esac

# Modules an IDE disk with a FAT filesystem needs, in insmod order (shared/GUEST-FACTS.md);
# checked against each module's depends= below.
modules="scsi_common scsi_mod libata ata_piix crct10dif_common crc-t10dif crc64 crc64-rocksoft
t10-pi sd_mod fat vfat nls_cp437 nls_ascii"

say() { echo "make-guest: $*"; }
die() { echo "make-guest: error: $*" >&2; exit 1; }

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

# the guest benchmark programs (static i386; rebuilt only when their sources change)
benchdir="$root/build/bench/guest"
benchbins=""
if bash "$root/bench/guest/build.sh" "$benchdir"; then
    for f in "$root"/bench/guest/*.c; do benchbins="$benchbins $benchdir/$(basename "$f" .c)"; done
else
    say "warning: the guest benchmarks (bench/guest) could not be built; the guest gets no /bench"
fi

stamp="$out/.complete"
if [ "$force" = 0 ] && [ "$update" = 0 ] && [ -e "$stamp" ] &&
   [ ! "$here/make-guest.sh" -nt "$stamp" ] && [ ! "$here/guest/init" -nt "$stamp" ]; then
    ok=1
    for f in $benchbins; do [ "$f" -nt "$stamp" ] && ok=0; done
    for f in disk.img disk.sha256 disk.offset; do [ -s "$out/$f" ] || ok=0; done
    for fl in $flavours; do
        for f in vmlinuz-$fl initrd-$fl.gz release-$fl; do [ -s "$out/$f" ] || ok=0; done
    done
    if [ "$ok" = 1 ]; then
        say "up to date in $out (--update to look for a newer kernel, --force to rebuild)"
        exit 0
    fi
fi
rm -f "$stamp"

# --- host tools (Debian packages) ---------------------------------------------------------
need=""
command -v cpio >/dev/null 2>&1     || need="$need cpio"
command -v gzip >/dev/null 2>&1     || need="$need gzip"
command -v dpkg-deb >/dev/null 2>&1 || need="$need dpkg"
command -v mkfs.fat >/dev/null 2>&1 || need="$need dosfstools"
command -v mcopy >/dev/null 2>&1    || need="$need mtools"
command -v objcopy >/dev/null 2>&1  || need="$need binutils"
command -v xz >/dev/null 2>&1       || need="$need xz-utils"
if [ -n "$need" ]; then
    say "installing host tools:$need"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq $need >/dev/null || {
        $SUDO apt-get update -qq || true
        # shellcheck disable=SC2086
        $SUDO apt-get install -y -qq $need >/dev/null
    } || die "apt-get install$need failed"
fi

mkdir -p "$out" "$cache"

# --- package resolution ---------------------------------------------------------------------
i386_ready() {  # (no grep -q on a pipe: with pipefail, apt-cache's SIGPIPE would fail it)
    local p
    p="$(apt-cache policy linux-image-686:i386 2>/dev/null || true)"
    case "$p" in *"Candidate: "[0-9]*) return 0 ;; esac
    return 1
}
ensure_i386() {
    i386_ready && return 0
    say "adding the i386 architecture and updating apt's lists"
    if ! dpkg --print-foreign-architectures | grep -qx i386; then
        $SUDO dpkg --add-architecture i386 || return 1
    fi
    $SUDO apt-get update -qq || say "warning: apt-get update reported errors"
    i386_ready
}

# the versioned image behind a meta package, as its -unsigned name
resolve_image() {  # $1 = flavour
    local meta="linux-image-$1:i386" dep
    dep="$(apt-cache depends "$meta" 2>/dev/null |
           sed -n "s/^ *Depends: \(linux-image-[0-9][^:]*-$1\)\(:i386\)\?\$/\1/p" | head -n1)"
    if [ -z "$dep" ]; then  # fall back to the newest *-<flavour>-unsigned the lists know
        dep="$(apt-cache search --names-only "^linux-image-6\.1\.0-[0-9]+-$1-unsigned\$" 2>/dev/null |
               awk '{print $1}' | sed "s/-unsigned\$//" | sort -V | tail -n1)"
    fi
    [ -n "$dep" ] || return 1
    echo "${dep%-unsigned}-unsigned"
}

# download "$1:i386" into the cache unless its candidate version is there; prints the .deb path
fetch() {  # $1 = package name (no arch)
    local pkg="$1" ver file
    ver="$(apt-cache policy "$pkg:i386" 2>/dev/null | sed -n 's/^ *Candidate: //p')"
    if [ -n "$ver" ] && [ "$ver" != "(none)" ]; then
        file="$cache/${pkg}_${ver//:/%3a}_i386.deb"
        if [ ! -s "$file" ]; then
            say "downloading $pkg:i386 $ver" >&2
            if ! (cd "$cache" && apt-get download -q "$pkg:i386=$ver" >&2 2>"$cache/apt.log"); then
                cat "$cache/apt.log" >&2
                die "apt-get download $pkg:i386=$ver failed (no network to Debian's archive? see above)"
            fi
            [ -s "$file" ] || die "apt-get download did not produce $file"
        fi
        echo "$file"
        return 0
    fi
    # apt knows nothing: use the newest cached copy, if any
    file="$(ls "$cache/${pkg}"_*_i386.deb 2>/dev/null | sort -V | tail -n1 || true)"
    [ -n "$file" ] || die "apt-cache knows no $pkg:i386 and nothing is cached in $cache"
    say "warning: apt-cache knows no $pkg:i386; using cached $(basename "$file")" >&2
    echo "$file"
}

if ! ensure_i386; then
    say "warning: apt has no i386 lists (dpkg --add-architecture i386 / apt-get update failed)"
fi

# --- build helpers --------------------------------------------------------------------------
# true when $1 is missing or older than any of the remaining files
stale() {
    local t="$1"; shift
    [ "$force" = 1 ] && return 0
    [ -e "$t" ] || return 0
    local f
    for f in "$@"; do [ "$f" -nt "$t" ] && return 0; done
    return 1
}

bbdeb="$(fetch busybox-static)"
bbdir="$cache/busybox-static"
if stale "$bbdir/bin/busybox" "$bbdeb"; then
    say "extracting $(basename "$bbdeb")"
    rm -rf "$bbdir"; mkdir -p "$bbdir"
    dpkg-deb -x "$bbdeb" "$bbdir"
    touch "$bbdir/bin/busybox"
fi
[ -x "$bbdir/bin/busybox" ] || die "$bbdeb holds no bin/busybox"

# the .modinfo "depends=" of a module file (works on foreign ELF through objcopy)
mod_depends() {
    objcopy -O binary --only-section=.modinfo "$1" /dev/stdout 2>/dev/null |
        tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '
}

build_flavour() {  # $1 = flavour
    local fl="$1" pkg deb kdir rel vmlinuz
    if ! pkg="$(resolve_image "$fl")"; then
        deb="$(ls "$cache"/linux-image-6.1.0-*-"$fl"-unsigned_*_i386.deb 2>/dev/null | sort -V | tail -n1 || true)"
        [ -n "$deb" ] || die "cannot resolve linux-image-$fl:i386 (apt-cache depends) and nothing is cached"
        say "warning: cannot resolve linux-image-$fl:i386; using cached $(basename "$deb")"
    else
        deb="$(fetch "$pkg")"
    fi
    kdir="$cache/kernel-$fl"
    if stale "$kdir/.stamp" "$deb" "$here/make-guest.sh"; then
        say "extracting $(basename "$deb")"
        rm -rf "$kdir"; mkdir -p "$kdir"
        dpkg-deb -x "$deb" "$kdir"
        # keep the kernel and the modules we use (the whole tree is ~250 MB)
        local keep=" " m
        for m in $modules; do keep="$keep$m.ko $m.ko.xz "; done
        find "$kdir/lib/modules" -type f \( -name '*.ko' -o -name '*.ko.xz' \) -print |
            while IFS= read -r m; do
                case "$keep" in *" ${m##*/} "*) ;; *) rm -f "$m" ;; esac
            done
        find "$kdir" -depth -type d -empty -delete
        touch "$kdir/.stamp"
    fi
    vmlinuz="$(ls "$kdir"/boot/vmlinuz-* 2>/dev/null | head -n1 || true)"
    [ -n "$vmlinuz" ] || die "$deb holds no boot/vmlinuz-*"
    rel="${vmlinuz##*/vmlinuz-}"
    [ -d "$kdir/lib/modules/$rel" ] || die "$deb holds no lib/modules/$rel"

    # kernel
    if stale "$out/vmlinuz-$fl" "$vmlinuz"; then
        cp "$vmlinuz" "$out/vmlinuz-$fl"
        say "vmlinuz-$fl <- $rel"
    fi
    if [ "$(dd if="$out/vmlinuz-$fl" bs=1 skip=514 count=4 2>/dev/null)" != "HdrS" ]; then
        die "$out/vmlinuz-$fl: no HdrS at 0x202 (not a bzImage)"
    fi
    echo "$rel" > "$out/release-$fl.tmp"
    cmp -s "$out/release-$fl.tmp" "$out/release-$fl" 2>/dev/null && rm -f "$out/release-$fl.tmp" ||
        mv "$out/release-$fl.tmp" "$out/release-$fl"

    # initramfs
    local initrd="$out/initrd-$fl.gz"
    # shellcheck disable=SC2086
    if stale "$initrd" "$kdir/.stamp" "$bbdir/bin/busybox" "$here/guest/init" "$here/make-guest.sh" \
             $benchbins; then
        say "building initrd-$fl.gz"
        local st="$cache/initrd-$fl.d" m f loaded=" " d
        rm -rf "$st"
        mkdir -p "$st"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,mnt,tmp,root,etc/bt86,lib/modules/"$rel"}
        cp "$bbdir/bin/busybox" "$st/bin/busybox"
        cp "$here/guest/init" "$st/init"
        chmod 755 "$st/init" "$st/bin/busybox"
        if [ -n "$benchbins" ]; then
            mkdir -p "$st/bench"
            # shellcheck disable=SC2086
            cp $benchbins "$st/bench/"
            chmod 755 "$st"/bench/*
        fi
        : > "$st/etc/bt86/modules"
        for m in $modules; do
            f="$(find "$kdir/lib/modules/$rel" -name "$m.ko" -o -name "$m.ko.xz" | head -n1)"
            [ -n "$f" ] || die "module $m not found in $deb (lib/modules/$rel)"
            local rp="${f#"$kdir"}"
            mkdir -p "$st$(dirname "$rp")"
            case "$f" in
                *.xz) rp="${rp%.xz}"; xz -dc "$f" > "$st$rp" ;;   # busybox insmod takes plain .ko
                *)    cp "$f" "$st$rp" ;;
            esac
            for d in $(mod_depends "$st$rp"); do
                d="${d//-/_}"
                case "$loaded" in
                    *" $d "*) ;;
                    *) die "module $m depends on $d, which is not loaded before it (fix the list)" ;;
                esac
            done
            loaded="$loaded${m//-/_} "
            echo "$rp" >> "$st/etc/bt86/modules"
        done
        echo "$rel" > "$st/etc/bt86/release"
        # /dev/console for init's first open (the kernel's built-in cpio has one too)
        [ "$(id -u)" = 0 ] && mknod -m 600 "$st/dev/console" c 5 1 2>/dev/null || true
        # fixed times, sorted names, no inode numbers: the same inputs give the same bytes
        find "$st" -exec touch -h -d '2000-01-01 00:00:00 UTC' {} +
        (cd "$st" && find . -mindepth 1 | LC_ALL=C sort |
            cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n > "$initrd.tmp" ||
            die "cpio/gzip failed for $initrd"
        mv "$initrd.tmp" "$initrd"
        rm -rf "$st"
    fi
}

for fl in $flavours; do
    build_flavour "$fl"
done

# --- disk image -----------------------------------------------------------------------------
disk="$out/disk.img"
if stale "$disk" "$here/make-guest.sh" || [ ! -s "$out/disk.sha256" ]; then
    say "building disk.img (16 MiB, MBR, FAT16 at 1 MiB)"
    total=32768          # sectors of 512 bytes: 16 MiB
    start=2048           # partition start (1 MiB)
    count=$((total - start))
    st="$cache/disk.d"
    rm -rf "$st"; mkdir -p "$st"
    printf 'Hello from the bt86 reference guest disk.\n' > "$st/hello.txt"
    # ~1 MiB of distinct lines: a misplaced or repeated sector changes the checksum
    seq -f 'bt86 data line %07g: the quick brown fox jumps over the lazy dog' 1 16000 > "$st/data.bin"
    touch -d '2000-01-01 00:00:00 UTC' "$st/hello.txt" "$st/data.bin"   # reproducible image
    export SOURCE_DATE_EPOCH=946684800
    part="$st/part.img"
    rm -f "$part"
    mkfs.fat -F 16 -n BT86DISK -i 0bd86d15 -h "$start" -C "$part" $((count / 2)) >/dev/null ||
        die "mkfs.fat failed"
    # mkfs.fat 4.2 stamps the volume label entry with the current time: pin it to 2000-01-01
    lab="$(grep -obUa 'BT86DISK   '$'\x08' "$part" | head -n1 | cut -d: -f1)"
    [ -n "$lab" ] || die "mkfs.fat wrote no volume label entry in $part"
    printf '\x00\x00\x00\x21\x28\x21\x28\x00\x00\x00\x00\x21\x28' |
        dd of="$part" bs=1 seek=$((lab + 13)) conv=notrunc status=none
    MTOOLS_SKIP_CHECK=1 mcopy -m -i "$part" "$st/hello.txt" "$st/data.bin" :: || die "mcopy failed"
    # MBR: one partition, type 0x06 (FAT16), LBA start/count; CHS fields say "use LBA"
    le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))\\x$(printf %02x $((($1 >> 16) & 255)))\\x$(printf %02x $((($1 >> 24) & 255)))"; }
    dd if=/dev/zero of="$disk.tmp" bs=512 count="$total" status=none
    {
        printf '\x00\xfe\xff\xff\x06\xfe\xff\xff'
        le32 "$start"
        le32 "$count"
    } | dd of="$disk.tmp" bs=1 seek=446 conv=notrunc status=none
    printf '\x55\xaa' | dd of="$disk.tmp" bs=1 seek=510 conv=notrunc status=none
    dd if="$part" of="$disk.tmp" bs=512 seek="$start" conv=notrunc status=none
    (cd "$st" && sha256sum hello.txt data.bin | sed 's#  #  /mnt/#') > "$out/disk.sha256"
    echo $((start * 512)) > "$out/disk.offset"
    # check through mtools from the assembled image
    MTOOLS_SKIP_CHECK=1 mtype -i "$disk.tmp@@$((start * 512))" ::hello.txt | cmp -s - "$st/hello.txt" ||
        die "disk.img check failed: hello.txt does not read back"
    mv "$disk.tmp" "$disk"
    rm -rf "$st"
fi

touch "$stamp"
say "done:"
for fl in $flavours; do
    say "  $out/vmlinuz-$fl ($(cat "$out/release-$fl")), $out/initrd-$fl.gz"
done
say "  $disk (files and sha256 in $out/disk.sha256; partition at byte $(cat "$out/disk.offset"))"
