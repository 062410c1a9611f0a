#!/usr/bin/env bash
# Builds the guests' base initramfs from the trixie chroot's packages:
# dash as /bin/sh, busybox (static) for coreutils, and the real tools the tests
# use (lspci/setpci, fio, nvme-cli, ip, ping, ethtool, kmod), each with the
# shared libraries it loads, plus pci.ids and tools/guest-init as /init.
#
# Usage: mkrootfs.sh CHROOT OUT.cpio
# The archive is uncompressed on purpose: under TCG the guest unpacks a
# plain cpio faster than it can gunzip one.
set -euo pipefail

chroot_dir="$1"
out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

# Guest paths of the programs to ship.
programs=(
    /usr/bin/dash /usr/bin/lspci /usr/bin/setpci /usr/bin/fio /usr/sbin/nvme /usr/bin/ip
    /usr/bin/ping /usr/sbin/ethtool /usr/bin/kmod
)

mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/share/misc,proc,sys,dev,tmp,run,root,etc,mnt,var/log}
ln -s usr/bin "$stage/bin"
ln -s usr/sbin "$stage/sbin"
ln -s usr/lib "$stage/lib"
ln -s usr/lib64 "$stage/lib64"

# busybox first, so the real tools below replace its applets of the same name.
cp "$chroot_dir/usr/bin/busybox" "$stage/usr/bin/busybox"
for applet in $(chroot "$chroot_dir" /usr/bin/busybox --list-full); do
    case "$applet" in
    */linuxrc | */init) continue ;;
    esac
    [[ -e "$stage/$applet" ]] || ln -s /usr/bin/busybox "$stage/$applet"
done

# Copies a guest path from the chroot, following symlinks to real files.
copy_from_chroot() {
    local p="$1" real
    # /lib, /bin, ... are symlinks into /usr (merged /usr) in the image too.
    case "$p" in
    /lib/* | /lib64/* | /bin/* | /sbin/*) p="/usr$p" ;;
    esac
    real="$(chroot "$chroot_dir" readlink -f "$p")"
    mkdir -p "$stage$(dirname "$real")"
    cp -L "$chroot_dir$real" "$stage$real"
    if [[ "$real" != "$p" ]]; then
        mkdir -p "$stage$(dirname "$p")"
        ln -sf "$real" "$stage$p"
    fi
}

for prog in "${programs[@]}"; do
    # Drop busybox's applet of the same name wherever it is on PATH.
    for d in usr/bin usr/sbin; do
        [[ "$(readlink "$stage/$d/$(basename "$prog")" 2>/dev/null)" == /usr/bin/busybox ]] &&
            rm -f "$stage/$d/$(basename "$prog")"
    done
    rm -f "$stage$prog"
    copy_from_chroot "$prog"
    # ldd inside the chroot resolves through the chroot's own ld.so.cache.
    chroot "$chroot_dir" ldd "$prog" | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}' | while read -r lib; do
        [[ -e "$stage$lib" ]] || copy_from_chroot "$lib"
    done
done
for tool in insmod rmmod lsmod modprobe modinfo depmod; do
    rm -f "$stage/usr/sbin/$tool" "$stage/usr/bin/$tool"
    ln -s /usr/bin/kmod "$stage/usr/sbin/$tool"
done
# /bin/sh is dash: Debian's static busybox sh prefers its own applets to the
# real tools on PATH (ip, ping, ...), which tests must not silently get.
ln -sf dash "$stage/usr/bin/sh"
cp "$chroot_dir/usr/share/misc/pci.ids" "$stage/usr/share/misc/pci.ids"

install -m 0755 "$here/guest-init" "$stage/init"
echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"
echo "root:x:0:" >"$stage/etc/group"
printf '127.0.0.1 localhost\n' >"$stage/etc/hosts"

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$out.tmp"
mv "$out.tmp" "$out"
echo "rootfs: $(du -h "$out" | cut -f1) in $out"
