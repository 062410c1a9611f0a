#!/usr/bin/env bash
# Idempotent setup of everything rsio needs, from a bare Debian machine:
#
#   host    Debian build packages, bindgen-cli, the rust-src component
#   chroot  a Debian trixie chroot with QEMU 11.1 (vfio-user-pci) and the
#           guest userland packages (busybox, pciutils, fio, nvme-cli, bash,
#           openssh, ...)
#   source  the kernel source package, unpacked
#   kernel  the kernel, built for $RSIO_FLAVOUR (default | debug)
#   rootfs  the guests' base initramfs
#
# With no argument it runs all steps. Each step is cached in $RSIO_CACHE under
# a key of its inputs and skipped when that key is already built. At the end it
# writes $RSIO_CACHE/env-$RSIO_FLAVOUR.sh with the paths the runner needs.
source "$(dirname "$0")/lib.sh"

PIN="$RSIO_ROOT/kernel/pin"
SUITE="$(pin_value "$PIN" CHROOT_SUITE)"

# ---------------------------------------------------------------- host -------
HOST_PACKAGES=(
    "clang$RSIO_LLVM_SUFFIX" "lld$RSIO_LLVM_SUFFIX" "llvm$RSIO_LLVM_SUFFIX" "libclang$RSIO_LLVM_SUFFIX-dev"
    flex bison bc libelf-dev libssl-dev cpio debootstrap kmod rsync xz-utils zstd
    python3 util-linux gzip patch
)

step_host() {
    local missing=()
    for p in "${HOST_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing host packages: ${missing[*]}"
        quiet "$RSIO_CACHE/apt-host.log" apt-get update
        DEBIAN_FRONTEND=noninteractive quiet "$RSIO_CACHE/apt-host.log" \
            apt-get install -y --no-install-recommends "${missing[@]}"
    fi
    local bg
    bg="$(pin_value "$PIN" BINDGEN_CLI_VERSION)"
    if [[ "$(bindgen --version 2>/dev/null)" != "bindgen $bg" ]]; then
        log "installing bindgen-cli $bg (cargo)"
        quiet "$RSIO_CACHE/bindgen-install.log" cargo install --locked "bindgen-cli@$bg"
    fi
    if [[ ! -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library/core" ]]; then
        log "installing the rust-src component"
        quiet "$RSIO_CACHE/rust-src.log" rustup component add rust-src
    fi
}

# -------------------------------------------------------------- chroot -------
# Userland for the guests and QEMU for the host, all from the chroot's suite.
# bash, coreutils (GNU dd), diffutils (GNU cmp), openssh-client and
# openssh-server are for the kernel's NTB selftest (ntb_test.sh: a bash
# script reaching the peer by ssh).
CHROOT_PACKAGES=(busybox-static pciutils pci.ids fio nvme-cli iproute2 iputils-ping kmod ethtool
    bash coreutils diffutils openssh-client openssh-server e2fsprogs)

CHROOT="$RSIO_CACHE/chroot-$SUITE-$(content_hash "${CHROOT_PACKAGES[*]}" v1)"

# Runs a command inside the chroot in a private mount namespace, so /proc and
# /dev mounts vanish with it.
in_chroot() {
    unshare --mount --propagation private -- bash -c '
        set -e
        root="$1"; shift
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        exec chroot "$root" "$@"' _ "$CHROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

build_chroot() {
    local mirror tmp
    mirror="$(debian_mirror)"
    tmp="$CHROOT.tmp"
    rm -rf "$tmp"
    log "debootstrap $SUITE (minbase) into $CHROOT"
    quiet "$RSIO_CACHE/debootstrap.log" debootstrap --variant=minbase "$SUITE" "$tmp" "$mirror"
    cat >"$tmp/etc/apt/sources.list.d/rsio.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates $SUITE-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $mirror
Suites: sid experimental
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -f "$tmp/etc/apt/sources.list"
    # sid and experimental only serve the kernel source download, never installs.
    cat >"$tmp/etc/apt/preferences.d/rsio" <<EOF
Package: *
Pin: release n=sid
Pin-Priority: 1

Package: *
Pin: release a=experimental
Pin-Priority: 1
EOF
    # Carry over the host's own apt acquire settings (e.g. validity checks).
    grep -l '^Acquire::' /etc/apt/apt.conf.d/* 2>/dev/null | while read -r f; do
        cp "$f" "$tmp/etc/apt/apt.conf.d/"
    done
    cp /etc/resolv.conf "$tmp/etc/resolv.conf"
    # Packages with services (openssh-server) must not start them in the chroot.
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod 0755 "$tmp/usr/sbin/policy-rc.d"
    CHROOT="$tmp" quiet "$RSIO_CACHE/chroot-apt.log" in_chroot apt-get update
    log "installing QEMU from $SUITE-backports and guest packages in the chroot"
    CHROOT="$tmp" quiet "$RSIO_CACHE/chroot-apt.log" in_chroot apt-get install -y --no-install-recommends \
        -t "$SUITE-backports" qemu-system-x86 "${CHROOT_PACKAGES[@]}"
    rm -rf "$tmp/var/cache/apt/archives/"*.deb
    mv "$tmp" "$CHROOT"
}

# The QEMU launcher: runs the chroot's QEMU with the chroot's own dynamic
# loader and libraries, so no bind mounts or chroot are needed at run time.
write_qemu_launcher() {
    local l="$CHROOT/rsio-qemu"
    cat >"$l" <<EOF
#!/bin/sh
R="$CHROOT"
export QEMU_MODULE_DIR="\$R/usr/lib/x86_64-linux-gnu/qemu"
exec "\$R/usr/lib64/ld-linux-x86-64.so.2" --library-path "\$R/usr/lib/x86_64-linux-gnu:\$R/lib/x86_64-linux-gnu" \\
    "\$R/usr/bin/qemu-system-x86_64" -L "\$R/usr/share/qemu" -L "\$R/usr/share/seabios" "\$@"
EOF
    chmod +x "$l"
}

step_chroot() {
    [[ -x "$CHROOT/usr/bin/qemu-system-x86_64" ]] || build_chroot
    write_qemu_launcher
    local v min
    v="$("$CHROOT/rsio-qemu" --version | sed -n 's/.*version \([0-9]*\.[0-9]*\).*/\1/p')"
    min="$(pin_value "$PIN" QEMU_MIN_VERSION)"
    [[ "$(printf '%s\n%s\n' "$min" "$v" | sort -V | head -n1)" == "$min" ]] ||
        die "chroot QEMU is $v, need >= $min"
    "$CHROOT/rsio-qemu" -device help 2>/dev/null | grep -q vfio-user-pci ||
        die "chroot QEMU $v lacks the vfio-user-pci device"
}

# -------------------------------------------------------------- source -------
# Picks the kernel source version: the pinned one if the mirror still has it,
# else the newest of the same major.minor, with a loud warning.
kernel_source_version() {
    local pkg="$1" want="$2" avail
    avail="$(in_chroot apt-cache madison "$pkg" | awk -F'|' '{gsub(/ /,"",$2); print $2}')"
    if grep -qxF "$want" <<<"$avail"; then
        echo "$want"
        return
    fi
    local newest
    newest="$(sort -V <<<"$avail" | tail -n1)"
    [[ -n "$newest" ]] || die "the mirror has no $pkg at all"
    warn "################################################################"
    warn "pinned $pkg $want is not on the mirror; FALLING BACK to $newest"
    warn "update LINUX_SOURCE_VERSION in kernel/pin once this one is tested"
    warn "################################################################"
    echo "$newest"
}

step_source() {
    local pkg want ver
    pkg="$(pin_value "$PIN" LINUX_SOURCE_PACKAGE)"
    want="$(pin_value "$PIN" LINUX_SOURCE_VERSION)"
    # Fast path: the pinned version is already unpacked.
    KSRC="$RSIO_CACHE/linux-$(echo "$want" | tr '~+:' '__.')"
    if [[ ! -f "$KSRC/.rsio-unpacked" ]]; then
        ver="$(kernel_source_version "$pkg" "$want")"
        KSRC="$RSIO_CACHE/linux-$(echo "$ver" | tr '~+:' '__.')"
    fi
    if [[ ! -f "$KSRC/.rsio-unpacked" ]]; then
        log "fetching $pkg $ver"
        local dl="$RSIO_CACHE/dl"
        rm -rf "$dl" "$KSRC"
        mkdir -p "$dl" "$CHROOT/tmp/rsio-dl"
        quiet "$RSIO_CACHE/source.log" in_chroot sh -c "cd /tmp/rsio-dl && apt-get download '$pkg=$ver'"
        mv "$CHROOT/tmp/rsio-dl/"*.deb "$dl/"
        rmdir "$CHROOT/tmp/rsio-dl"
        log "unpacking the kernel source"
        mkdir -p "$KSRC.tmp"
        dpkg-deb --fsys-tarfile "$dl/"*.deb | tar -xO --wildcards './usr/src/linux-source-*.tar.*' |
            tar -xJ -C "$KSRC.tmp" --strip-components=1
        rm -rf "$dl"
        touch "$KSRC.tmp/.rsio-unpacked"
        mv "$KSRC.tmp" "$KSRC"
    fi
    KVERSION_PKG="$(basename "$KSRC")"
}

# -------------------------------------------------------------- kernel -------
# The config is tinyconfig plus kernel/rsio.config (plus kernel/debug.config
# for the debug flavour); the build dir is keyed by all inputs.
kernel_fragments() {
    echo "$RSIO_ROOT/kernel/rsio.config"
    [[ "$RSIO_FLAVOUR" == default ]] || echo "$RSIO_ROOT/kernel/$RSIO_FLAVOUR.config"
}

step_kernel() {
    local frags key
    mapfile -t frags < <(kernel_fragments)
    for f in "${frags[@]}"; do [[ -f "$f" ]] || die "no config fragment $f (flavour $RSIO_FLAVOUR)"; done
    key="$(content_hash "${frags[@]}" "$KVERSION_PKG" "$(rustc --version)" "$(clang$RSIO_LLVM_SUFFIX --version | head -n1)" "$(bindgen --version)")"
    KBUILD="$RSIO_CACHE/kbuild-$KVERSION_PKG-$RSIO_FLAVOUR-$key"
    if [[ -f "$KBUILD/.rsio-built" ]]; then
        return
    fi
    local mk=(make -C "$KSRC" O="$KBUILD" LLVM="$RSIO_LLVM_SUFFIX" -j"$(nproc)")
    mkdir -p "$KBUILD"
    log "configuring the kernel ($RSIO_FLAVOUR flavour) in $KBUILD"
    quiet "$KBUILD/rsio-config.log" "${mk[@]}" rustavailable
    quiet "$KBUILD/rsio-config.log" "${mk[@]}" tinyconfig
    quiet "$KBUILD/rsio-config.log" "$KSRC/scripts/kconfig/merge_config.sh" -m -O "$KBUILD" "$KBUILD/.config" "${frags[@]}"
    quiet "$KBUILD/rsio-config.log" "${mk[@]}" olddefconfig
    check_config "$KBUILD/.config" "${frags[@]}"
    log "building the kernel (about 12 minutes on 2 cores; log: $KBUILD/rsio-build.log)"
    local t0=$SECONDS
    quiet "$KBUILD/rsio-build.log" "${mk[@]}" bzImage modules
    quiet "$KBUILD/rsio-build.log" "${mk[@]}" INSTALL_MOD_PATH="$KBUILD/modroot" INSTALL_MOD_STRIP=1 modules_install
    log "kernel built in $((SECONDS - t0)) s"
    touch "$KBUILD/.rsio-built"
}

# Every option a fragment sets must survive olddefconfig: Kconfig silently
# drops options whose dependencies are missing, which would hide a broken
# fragment until some test fails far away.
check_config() {
    local cfg="$1" bad=0 opt want
    shift
    declare -A effective=()
    # Later fragments override earlier ones, as in merge_config.sh.
    while IFS= read -r line; do
        case "$line" in
        CONFIG_*=*) effective[${line%%=*}]="$line" ;;
        "# CONFIG_"*" is not set")
            opt="${line#\# }"
            effective[${opt%% *}]="unset"
            ;;
        esac
    done < <(cat "$@")
    for opt in "${!effective[@]}"; do
        want="${effective[$opt]}"
        if [[ "$want" == unset ]]; then
            ! grep -q "^$opt=[ym]" "$cfg" || { warn "config not unset: $opt"; bad=1; }
        else
            grep -qxF "$want" "$cfg" || { warn "config lost: $want (got: $(grep "^$opt=" "$cfg" || echo unset))"; bad=1; }
        fi
    done
    ((bad == 0)) || die "the kernel config fragments did not apply cleanly"
}

# -------------------------------------------------------------- rootfs -------
step_rootfs() {
    ROOTFS="$RSIO_CACHE/rootfs-$(basename "$CHROOT")-$(content_hash "$RSIO_ROOT/tools/mkrootfs.sh" "$RSIO_ROOT/tools/guest-init")"
    if [[ ! -f "$ROOTFS/base.cpio" ]]; then
        log "building the guest base initramfs"
        rm -rf "$ROOTFS"
        mkdir -p "$ROOTFS"
        quiet "$ROOTFS/mkrootfs.log" "$RSIO_ROOT/tools/mkrootfs.sh" "$CHROOT" "$ROOTFS/base.cpio"
    fi
}

write_env() {
    local envf="$RSIO_CACHE/env-$RSIO_FLAVOUR.sh"
    cat >"$envf.tmp" <<EOF
# Written by tools/setup.sh: the platform rsio's build and runner use.
export RSIO_FLAVOUR=$RSIO_FLAVOUR
export RSIO_CHROOT=$CHROOT
export RSIO_QEMU=$CHROOT/rsio-qemu
export RSIO_KSRC=$KSRC
export RSIO_KDIR=$KBUILD
export RSIO_KERNEL=$KBUILD/arch/x86/boot/bzImage
export RSIO_KMODROOT=$KBUILD/modroot
export RSIO_ROOTFS=$ROOTFS/base.cpio
EOF
    mv "$envf.tmp" "$envf"
    log "platform ready: $envf"
}

main() {
    local steps=("$@")
    ((${#steps[@]})) || steps=(host chroot source kernel rootfs)
    local t0=$SECONDS
    for s in "${steps[@]}"; do
        case "$s" in
        host) with_lock "$RSIO_CACHE/.lock-host" step_host ;;
        chroot) step_chroot ;;
        source) step_source ;;
        kernel) step_kernel ;;
        rootfs) step_rootfs ;;
        *) die "unknown setup step '$s' (host chroot source kernel rootfs)" ;;
        esac
    done
    if [[ -n "${KBUILD:-}" && -n "${ROOTFS:-}" ]]; then write_env; fi
    log "setup done in $((SECONDS - t0)) s"
}

main "$@"
