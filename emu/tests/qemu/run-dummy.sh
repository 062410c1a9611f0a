#!/usr/bin/env bash
# Runs emu/tests/qemu/dummy_device.toml: the dummy vfio-user device
# (emu/examples/dummy_device.rs) in a real QEMU guest, poked from inside the
# guest with emu/examples/guest_mmio.rs (the guest kernel has no /dev/mem).
#
#   emu/tests/qemu/run-dummy.sh      # from the repository root
#
# The device's log ends up in target/cluster-logs/dummy_device/device.log.
set -euo pipefail
cd "$(dirname "$0")/../../.."
: "${RSIO_QEMU:?source ~/.cache/rsio/env-default.sh first}"

cargo build --release -p rsio-cluster -p rsio-emu --example dummy_device
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release -p rsio-emu --example guest_mmio --target x86_64-unknown-linux-gnu

# guest_mmio reaches the guest as one more initramfs part: a cpio archive
# with just /usr/bin/guest_mmio, appended to the base rootfs.
stage=$(mktemp -d)
mkdir -p "$stage/usr/bin"
cp target/x86_64-unknown-linux-gnu/release/examples/guest_mmio "$stage/usr/bin/"
tools_cpio=$(mktemp --suffix=.cpio)
(cd "$stage" && find usr | cpio -o -H newc --quiet) >"$tools_cpio"
rm -rf "$stage"

socket=/tmp/rsio-dummy.sock
log=$(mktemp)
RSIO_EMU_LOG=${RSIO_EMU_LOG:-info} target/release/examples/dummy_device "$socket" >"$log" 2>&1 &
device=$!
trap 'kill $device 2>/dev/null; wait $device 2>/dev/null || true; rm -f "$tools_cpio"' EXIT
for _ in $(seq 50); do [[ -S $socket ]] && break; sleep 0.1; done

rc=0
target/release/rsio-cluster run --initrd "${RSIO_INITRD:-$RSIO_ROOTFS}:$tools_cpio" \
    emu/tests/qemu/dummy_device.toml || rc=$?
mkdir -p target/cluster-logs/dummy_device
mv "$log" target/cluster-logs/dummy_device/device.log
exit $rc
