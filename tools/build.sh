#!/usr/bin/env bash
# Sets up the platform (idempotent, cached) and builds everything the guests
# run: rsio's kernel modules, the user-space workspace and the initramfs
# overlay. Prints nothing but progress; sourced by demo.sh and test.sh, which
# then find the platform's paths in the environment.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$RSIO_ROOT/target"
"$RSIO_ROOT/tools/setup.sh"
source "$RSIO_CACHE/env-$RSIO_FLAVOUR.sh"
log "building rsio's kernel modules against $RSIO_KDIR"
quiet "$RSIO_ROOT/target/modules.log" make -C "$RSIO_ROOT" KDIR="$RSIO_KDIR" modules
log "building rsio's user-space programs"
quiet "$RSIO_ROOT/target/cargo-build.log" cargo build --release --workspace --manifest-path "$RSIO_ROOT/Cargo.toml"
quiet "$RSIO_ROOT/target/cargo-examples.log" cargo build --release --workspace --examples --manifest-path "$RSIO_ROOT/Cargo.toml"
log "building libsisci's C library and the C examples"
quiet "$RSIO_ROOT/target/sisci-build.log" "$RSIO_ROOT/tools/build-sisci.sh"
RSIO_OVERLAY="$RSIO_ROOT/target/rsio/overlay-$RSIO_FLAVOUR.cpio"
mkdir -p "$(dirname "$RSIO_OVERLAY")"
"$RSIO_ROOT/tools/mkoverlay.sh" "$RSIO_OVERLAY"
export RSIO_INITRD="$RSIO_ROOTFS:$RSIO_OVERLAY"
