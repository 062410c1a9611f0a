#!/usr/bin/env bash
# Rebuilds single kernel modules of the platform kernel with the fixes in
# kernel/module-fixes/*.patch, without rebuilding the kernel: each patch's
# source files are copied from the platform's kernel source, patched, and the
# module is built out of tree against the platform kernel's build tree. Each
# patch touches one single-file module (drivers/.../<name>.c -> <name>.ko).
# tools/mkoverlay.sh installs the results under /lib/modules/<kver>/updates/,
# which depmod ranks above the kernel's own copy.
#
# Usage: mkmodfixes.sh OUTDIR   (with the environment of tools/setup.sh)
source "$(dirname "$0")/lib.sh"

out="$1"
: "${RSIO_KSRC:?source the env file tools/setup.sh writes}"
: "${RSIO_KDIR:?source the env file tools/setup.sh writes}"
work="$RSIO_ROOT/target/rsio/modfixes"
rm -rf "$work"
mkdir -p "$work" "$out"

shopt -s nullglob
for p in "$RSIO_ROOT"/kernel/module-fixes/*.patch; do
    name="$(basename "$p" .patch)"
    mapfile -t files < <(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$p")
    ((${#files[@]} == 1)) && [[ "${files[0]}" == *.c ]] ||
        die "$p: a module fix must patch exactly one .c file"
    src="${files[0]}"
    mod="$(basename "$src" .c)"
    dir="$work/$name"
    mkdir -p "$dir/$(dirname "$src")"
    cp "$RSIO_KSRC/$src" "$dir/$src"
    patch -p1 --quiet --no-backup-if-mismatch -d "$dir" <"$p" ||
        die "$p no longer applies to $RSIO_KSRC/$src: refresh or drop it"
    echo "obj-m := $mod.o" >"$dir/$(dirname "$src")/Kbuild"
    quiet "$dir/build.log" make -C "$RSIO_KDIR" M="$dir/$(dirname "$src")" LLVM="$RSIO_LLVM_SUFFIX" modules
    cp "$dir/$(dirname "$src")/$mod.ko" "$out/"
    log "module fix: $mod.ko with $(basename "$p")"
done
