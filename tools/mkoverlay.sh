#!/usr/bin/env bash
# Builds the per-build initramfs overlay that goes on top of the base rootfs:
# the kernel's own modules (NTB core and clients, nvme, e1000e, ...), rsio's
# modules and rsio's user-space programs. The kernel unpacks concatenated cpio
# archives in order, so base + overlay form one root file system.
#
# Usage: mkoverlay.sh OUT.cpio   (with the environment of tools/setup.sh)
source "$(dirname "$0")/lib.sh"

out="$1"
: "${RSIO_KDIR:?source the env file tools/setup.sh writes}"
kver="$(cat "$RSIO_KDIR/include/config/kernel.release")"
bin="$RSIO_ROOT/target/release"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

# The base image has merged /usr (/lib -> usr/lib). The kernel's cpio unpacker
# replaces an entry whose type differs, so the overlay must only name real
# directories of the base (usr/lib, usr/bin), never the /lib symlink.
mods="$stage/usr/lib/modules"
mkdir -p "$mods" "$stage/usr/bin"
cp -a "$RSIO_KMODROOT/lib/modules/$kver" "$mods/"
rm -f "$mods/$kver/build" "$mods/$kver/source"
mkdir -p "$mods/$kver/extra" "$mods/rsio"
# The modules the last build made: Kbuild's modules.order (one object per
# module, paths from the repository root; stale .ko files elsewhere are not
# picked up).
[[ -f "$RSIO_ROOT/modules.order" ]] || die "no rsio modules built (run make)"
mapfile -t kos < <(sed -n 's/\.o$/.ko/p' "$RSIO_ROOT/modules.order")
((${#kos[@]})) || die "no rsio modules built (run make)"
for ko in "${kos[@]}"; do
    [[ -f "$RSIO_ROOT/$ko" ]] || die "$ko is in modules.order but not built (run make)"
    cp "$RSIO_ROOT/$ko" "$mods/$kver/extra/"
    ln -sf "../$kver/extra/$(basename "$ko")" "$mods/rsio/$(basename "$ko")"
done
# modules.dep lets modprobe load a module's dependencies first, e.g.
# rsio_ntb for rsio_fabric, which uses its Rust API (docs/build.md,
# "Cross-module Rust"): check that it has every module modpost recorded.
depmod -b "$stage/usr" "$kver"
for ko in "${kos[@]}"; do
    name="$(basename "$ko")"
    for dep in $(modinfo -F depends "$RSIO_ROOT/$ko" | tr ',' ' '); do
        grep -Eq "^extra/$name:.* ([^ ]*/)?$dep\.ko( |\$)" "$mods/$kver/modules.dep" ||
            die "depmod: no $dep in $name's line of modules.dep"
    done
done
for b in rsio rsio-abi-test rsio-ntb-probe; do
    [[ -x "$bin/$b" ]] || die "no $bin/$b (run cargo build --release)"
    install -m 0755 "$bin/$b" "$stage/usr/bin/$b"
done
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$out.tmp"
mv "$out.tmp" "$out"
log "overlay: ${#kos[@]} rsio module(s), kernel $kver -> $out"
