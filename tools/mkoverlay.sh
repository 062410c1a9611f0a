#!/usr/bin/env bash
# Builds the per-build initramfs overlay that goes on top of the base rootfs:
# the kernel's own modules (NTB core and clients, nvme, e1000e, ...), rsio's
# modules and rsio's user-space programs, the kernel's NTB selftest script
# and the build's ssh keys. The kernel unpacks concatenated cpio archives in
# order, so base + overlay form one root file system.
#
# Usage: mkoverlay.sh OUT.cpio   (with the environment of tools/setup.sh)
source "$(dirname "$0")/lib.sh"

out="$1"
: "${RSIO_KDIR:?source the env file tools/setup.sh writes}"
: "${RSIO_KSRC:?source the env file tools/setup.sh writes}"
: "${RSIO_CHROOT:?source the env file tools/setup.sh writes}"
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
# Kernel modules rebuilt with the fixes of kernel/module-fixes/ (e.g.
# ntb_tool, for ntb_test.sh): under updates/, which depmod prefers to the
# kernel's own copy in kernel/.
"$RSIO_ROOT/tools/mkmodfixes.sh" "$mods/$kver/updates"
depmod -b "$stage/usr" "$kver"
# modules.dep lets modprobe load a module's dependencies first, e.g.
# rsio_ntb for rsio_fabric, which uses its Rust API (docs/build.md,
# "Cross-module Rust"): check that it has every module modpost recorded.
for ko in "${kos[@]}"; do
    name="$(basename "$ko")"
    for dep in $(modinfo -F depends "$RSIO_ROOT/$ko" | tr ',' ' '); do
        grep -Eq "^extra/$name:.* ([^ ]*/)?$dep\.ko( |\$)" "$mods/$kver/modules.dep" ||
            die "depmod: no $dep in $name's line of modules.dep"
    done
done
# libsisci (the SISCI C library) and the SISCI example programs: C ones
# built by tools/build-sisci.sh against our header, the Rust one a cargo
# example of libsisci.
mkdir -p "$stage/usr/lib/pkgconfig" "$stage/usr/include/sisci/dis"
install -m 0755 "$bin/libsisci.so" "$stage/usr/lib/libsisci.so"
install -m 0644 "$bin/sisci.pc" "$stage/usr/lib/pkgconfig/sisci.pc"
install -m 0644 "$RSIO_ROOT"/sisci/include/*.h "$stage/usr/include/sisci/"
install -m 0644 "$RSIO_ROOT"/sisci/include/dis/*.h "$stage/usr/include/sisci/dis/"
for b in sisci-pingpong sisci-bandwidth sisci-intr-latency sisci-multicast sisci-c-smoke sisci-nvme sisci-edu sisci-physmem; do
    [[ -x "$bin/$b" ]] || die "no $bin/$b (run tools/build-sisci.sh)"
    install -m 0755 "$bin/$b" "$stage/usr/bin/$b"
done
[[ -x "$bin/examples/sisci-pingpong-rs" ]] || die "no $bin/examples/sisci-pingpong-rs (cargo build --release --examples -p libsisci)"
install -m 0755 "$bin/examples/sisci-pingpong-rs" "$stage/usr/bin/sisci-pingpong-rs"
for b in rsio rsio-abi-test rsio-ntb-probe rsio-fabric-bench rsio-fuzz rsio-runas rsio-window-test rsio-feature-test rsio-sisci-test rsio-sisci-fuzz rsio-vfio-test rsio-bar; do
    [[ -x "$bin/$b" ]] || die "no $bin/$b (run cargo build --release)"
    install -m 0755 "$bin/$b" "$stage/usr/bin/$b"
done

# The kernel's NTB selftest, byte for byte from the platform's kernel source,
# with its sha256 (tests/cluster/ntb_test.toml checks it in the guest).
selftest="$RSIO_KSRC/tools/testing/selftests/ntb/ntb_test.sh"
[[ -f "$selftest" ]] || die "no $selftest in the kernel source"
mkdir -p "$stage/usr/share/rsio/selftests/ntb"
install -m 0755 "$selftest" "$stage/usr/share/rsio/selftests/ntb/ntb_test.sh"
(cd "$stage/usr/share/rsio/selftests/ntb" && sha256sum ntb_test.sh >ntb_test.sh.sha256)
log "overlay: ntb_test.sh sha256 $(cut -d' ' -f1 "$stage/usr/share/rsio/selftests/ntb/ntb_test.sh.sha256")"

# ssh keys, new with every build and never stored in the repository: root's
# key pair, authorized on every node (so any node logs into any other as
# root), and the nodes' host key (generating it at boot is slow under TCG).
# The chroot's ssh-keygen runs through the chroot's own loader and libraries,
# as QEMU does (rsio-qemu), so the host needs no ssh and no chroot call.
ssh_keygen() {
    local k="$RSIO_CHROOT/usr/bin/ssh-keygen"
    [[ -x "$k" ]] || die "no ssh-keygen in $RSIO_CHROOT (openssh-client; rerun tools/setup.sh)"
    "$RSIO_CHROOT/usr/lib64/ld-linux-x86-64.so.2" \
        --library-path "$RSIO_CHROOT/usr/lib/x86_64-linux-gnu:$RSIO_CHROOT/lib/x86_64-linux-gnu" "$k" "$@"
}
mkdir -p -m 0700 "$stage/root/.ssh"
mkdir -p "$stage/etc/ssh"
ssh_keygen -q -t ed25519 -N '' -C "root@rsio-guest" -f "$stage/root/.ssh/id_ed25519"
install -m 0600 "$stage/root/.ssh/id_ed25519.pub" "$stage/root/.ssh/authorized_keys"
ssh_keygen -q -t ed25519 -N '' -C "host@rsio-guest" -f "$stage/etc/ssh/ssh_host_ed25519_key"
chmod 0600 "$stage/root/.ssh/id_ed25519" "$stage/etc/ssh/ssh_host_ed25519_key"

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$out.tmp"
mv "$out.tmp" "$out"
log "overlay: ${#kos[@]} rsio module(s), kernel $kver -> $out"
