#!/usr/bin/env bash
# Idempotent setup of everything rsio needs, from a bare Debian machine:
#
#   host    Debian build packages, bindgen-cli, the rust-src, rustfmt and
#           clippy components
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
    # The lint step of make test: rustfmt (kernel and user space) and clippy
    # (CLIPPY=1 for the modules, cargo clippy for user space).
    if ! rustfmt --version >/dev/null 2>&1 || ! clippy-driver --version >/dev/null 2>&1; then
        log "installing the rustfmt and clippy components"
        quiet "$RSIO_CACHE/rust-lint.log" rustup component add rustfmt clippy
    fi
}

# -------------------------------------------------------------- chroot -------
# Userland for the guests and QEMU for the host. Everything comes from the
# release ($SUITE) itself, except QEMU: the vfio-user-pci client needs 11.1,
# which only $SUITE-backports has; QEMU and whatever of its dependencies apt
# must take along come from there (docs/build.md lists them).
# bash, coreutils (GNU dd), diffutils (GNU cmp), openssh-client and
# openssh-server are for the kernel's NTB selftest (ntb_test.sh: a bash
# script reaching the peer by ssh).
CHROOT_PACKAGES=(busybox-static pciutils pci.ids fio nvme-cli iproute2 iputils-ping kmod ethtool
    bash coreutils diffutils openssh-client openssh-server e2fsprogs)
BACKPORTS_PACKAGES=(qemu-system-x86)

# The chroot is cached under its recipe (package lists, how they are
# installed) and the versions it holds: chroot-<suite>-<recipe>-<versions>.
# The versions are known once it is built: <CHROOT_BASE>.current names the
# newest build of this recipe, and setup asks the mirror whether a fresh
# build would get other versions (chroot_drift).
CHROOT_BASE="$RSIO_CACHE/chroot-$SUITE-$(content_hash "${CHROOT_PACKAGES[*]}" "${BACKPORTS_PACKAGES[*]}" v2)"
CHROOT=
# The versions the repository's tests last passed with (tools/setup.sh record).
RECORDED_PACKAGES="$RSIO_ROOT/kernel/chroot-packages.txt"

# Runs a command inside the chroot in a private mount namespace, so /proc and
# /dev mounts vanish with it.
in_chroot() {
    [[ -n "$CHROOT" && -d "$CHROOT" ]] || die "in_chroot: no chroot ('$CHROOT')"
    unshare --mount --propagation private -- bash -c '
        set -e
        root="$1"; shift
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        exec chroot "$root" "$@"' _ "$CHROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# The packages of the chroot at $1, one "name version" per line, sorted.
package_manifest() {
    chroot "$1" dpkg-query -W -f='${Package} ${Version}\n' | LC_ALL=C sort
}

# How manifest $2 differs from manifest $1, one package per line:
# "name: A -> B", "name: (none) -> B", "name: A -> (none)".
manifest_diff() {
    LC_ALL=C join -a1 -a2 -e '(none)' -o 0,1.2,2.2 "$1" "$2" | awk '$2 != $3 { print $1 ": " $2 " -> " $3 }'
}

build_chroot() {
    local mirror tmp key
    mirror="$(debian_mirror)"
    tmp="$CHROOT_BASE.tmp"
    [[ -n "$tmp" && "$tmp" == "$RSIO_CACHE"/* ]] || die "bad chroot path '$tmp'"
    rm -rf "$tmp"
    log "debootstrap $SUITE (minbase) into $tmp"
    quiet "$RSIO_CACHE/debootstrap.log" debootstrap --variant=minbase "$SUITE" "$tmp" "$mirror"
    printf '%s\n' "Types: deb" "URIs: $mirror" "Suites: $SUITE $SUITE-updates $SUITE-backports" \
        "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" \
        >"$tmp/etc/apt/sources.list.d/rsio.sources"
    # sid and experimental only serve the kernel source download, never
    # installs (priority 1); a file of their own, so that the drift check
    # can leave their large indexes out.
    printf '%s\n' "Types: deb" "URIs: $mirror" "Suites: sid experimental" \
        "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" \
        >"$tmp/etc/apt/sources.list.d/rsio-kernel-source.sources"
    rm -f "$tmp/etc/apt/sources.list"
    printf '%s\n' "Package: *" "Pin: release n=sid" "Pin-Priority: 1" "" \
        "Package: *" "Pin: release a=experimental" "Pin-Priority: 1" \
        >"$tmp/etc/apt/preferences.d/rsio"
    # Carry over the host's own apt acquire settings (e.g. validity checks).
    grep -l '^Acquire::' /etc/apt/apt.conf.d/* 2>/dev/null | while read -r f; do
        cp "$f" "$tmp/etc/apt/apt.conf.d/"
    done
    cp /etc/resolv.conf "$tmp/etc/resolv.conf"
    # Packages with services (openssh-server) must not start them in the chroot.
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod 0755 "$tmp/usr/sbin/policy-rc.d"
    CHROOT="$tmp" quiet "$RSIO_CACHE/chroot-apt.log" in_chroot apt-get update
    log "installing QEMU from $SUITE-backports and the guest packages from $SUITE in the chroot"
    local bp
    bp="$(CHROOT="$tmp" backports_closure)"
    log "from $SUITE-backports: $bp"
    # shellcheck disable=SC2086 # one word per package
    CHROOT="$tmp" quiet "$RSIO_CACHE/chroot-apt.log" in_chroot apt-get install -y --no-install-recommends \
        $(printf '%s/'"$SUITE"'-backports ' $bp) "${CHROOT_PACKAGES[@]}"
    rm -rf "$tmp/var/cache/apt/archives/"*.deb
    package_manifest "$tmp" >"$tmp/rsio-packages.txt"
    key="$(content_hash "$tmp/rsio-packages.txt")"
    CHROOT="$CHROOT_BASE-$key"
    rm -rf "$CHROOT"
    mv "$tmp" "$CHROOT"
    log "chroot built: $(wc -l <"$CHROOT/rsio-packages.txt") packages," \
        "$(grep -c '~bpo' "$CHROOT/rsio-packages.txt") of them from $SUITE-backports"
}

# The packages that must come from backports: BACKPORTS_PACKAGES and, of
# their dependencies, those the release cannot satisfy. apt takes only the
# named package from a "pkg/suite" request, so this asks apt (simulating)
# and adds each package whose release version it refuses ("Depends: X (=
# V) but W is to be installed"), until the request resolves.
backports_closure() {
    local bp=("${BACKPORTS_PACKAGES[@]}") out more i
    for ((i = 0; i < 20; i++)); do
        if out="$(in_chroot apt-get install -s --no-install-recommends \
            "${bp[@]/%//$SUITE-backports}" "${CHROOT_PACKAGES[@]}" 2>&1)"; then
            echo "${bp[*]}"
            return 0
        fi
        more="$(sed -n 's/.*Depends: \([^ ]*\) (.*) but .* is to be installed.*/\1/p' <<<"$out" | sort -u)"
        more="$(comm -23 <(echo "$more") <(printf '%s\n' "${bp[@]}" | sort -u))"
        [[ -n "$more" ]] || { printf '%s\n' "$out" | tail -n 30 >&2; die "apt cannot install QEMU from $SUITE-backports"; }
        mapfile -t -O "${#bp[@]}" bp <<<"$more"
    done
    die "no backports set resolves after $i rounds"
}

# Whether a chroot built now would hold other versions than the cached one:
# the mirror's indexes of the release and backports are fetched into the
# cached chroot and apt simulates bringing it up to date. Prints the
# changes ("name: old -> new") and returns 0 when there are any; returns 1
# when there are none or the mirror cannot be reached (with a warning: the
# cached chroot is used as it is). RSIO_OFFLINE=1 skips the check.
chroot_drift() {
    [[ "${RSIO_OFFLINE:-0}" != 1 ]] || return 1
    local out
    if ! out="$(in_chroot apt-get update -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::Etc::SourceList=/etc/apt/sources.list.d/rsio.sources 2>&1)"; then
        warn "cannot ask the mirror about package updates; using the cached chroot as it is"
        printf '%s\n' "$out" | tail -n 5 >&2
        return 1
    fi
    # "Inst name [old] (new suite [arch])", or "Inst name (new ...)" for a
    # package a new build would add; packages apt keeps back (a newer
    # backport needing more from backports) count as changes too.
    local sim
    if ! sim="$(in_chroot apt-get -s -o Debug::NoLocking=1 \
        -o Dir::Etc::SourceParts=/dev/null -o Dir::Etc::SourceList=/etc/apt/sources.list.d/rsio.sources \
        dist-upgrade 2>&1)"; then
        echo "(apt cannot bring the cached chroot up to date: $(tail -n 1 <<<"$sim"))"
        return 0
    fi
    out="$(awk '$1 == "Inst" { old = ""; new = $3; if ($3 ~ /^\[/) { old = $3; new = $4 }
                            gsub(/[][()]/, "", old); gsub(/[()]/, "", new); if (old == "") old = "(none)"
                            print $2 ": " old " -> " new }
             $1 == "Remv" { print $2 ": removed" }
             /kept back/ { kb = 1; next } kb && /^  / { for (i = 1; i <= NF; i++) print $i ": kept back (newer on the mirror)"; next }
             { kb = 0 }' <<<"$sim")"
    [[ -n "$out" ]] || return 1
    printf '%s\n' "$out"
}

step_chroot() {
    local cur=
    [[ -f "$CHROOT_BASE.current" ]] && cur="$RSIO_CACHE/$(cat "$CHROOT_BASE.current")"
    if [[ -n "$cur" && -x "$cur/usr/bin/qemu-system-x86_64" && -f "$cur/rsio-packages.txt" ]]; then
        CHROOT="$cur"
        # At most one check every 30 minutes (test.sh sets up once per
        # kernel flavour).
        if [[ -z "$(find "$CHROOT/rsio-checked" -mmin -30 2>/dev/null)" ]]; then
            local changes
            if changes="$(chroot_drift)"; then
                warn "################################################################"
                warn "the mirror has other package versions than the cached chroot"
                warn "($(basename "$cur"); cached -> mirror):"
                while IFS= read -r l; do warn "    $l"; done <<<"$changes"
                warn "rebuilding the chroot as a bare machine would get it"
                warn "################################################################"
                CHROOT=
            else
                touch "$CHROOT/rsio-checked"
            fi
        fi
    fi
    if [[ -z "$CHROOT" ]]; then
        build_chroot
        basename "$CHROOT" >"$CHROOT_BASE.current.tmp"
        mv "$CHROOT_BASE.current.tmp" "$CHROOT_BASE.current"
        touch "$CHROOT/rsio-checked"
        if [[ -n "$cur" && -f "$cur/rsio-packages.txt" && "$cur" != "$CHROOT" ]]; then
            log "packages changed since the last cached build ($(basename "$cur") -> $(basename "$CHROOT")):"
            manifest_diff "$cur/rsio-packages.txt" "$CHROOT/rsio-packages.txt" | sed 's/^/    /' >&2
            rm -rf "$cur" "$RSIO_CACHE/rootfs-$(basename "$cur")-"*
        fi
    fi
    compare_recorded
    write_qemu_launcher
    local v min
    v="$("$CHROOT/rsio-qemu" --version | sed -n 's/.*version \([0-9]*\.[0-9]*\).*/\1/p')"
    min="$(pin_value "$PIN" QEMU_MIN_VERSION)"
    [[ "$(printf '%s\n%s\n' "$min" "$v" | sort -V | head -n1)" == "$min" ]] ||
        die "chroot QEMU is $v, need >= $min"
    "$CHROOT/rsio-qemu" -device help 2>/dev/null | grep -q vfio-user-pci ||
        die "chroot QEMU $v lacks the vfio-user-pci device"
}

# How the chroot at $1 differs from the recorded versions (manifest_diff).
recorded_diff() {
    manifest_diff <(grep -v '^#' "$RECORDED_PACKAGES") "$1/rsio-packages.txt"
}

# Says loudly where the chroot's versions differ from those the repository's
# tests last passed with (kernel/chroot-packages.txt): when a run fails
# after the mirror moved on, the first lines of its log name the suspects.
compare_recorded() {
    [[ -f "$RECORDED_PACKAGES" ]] || { warn "no $RECORDED_PACKAGES to compare the chroot with"; return 0; }
    local d
    d="$(recorded_diff "$CHROOT")"
    if [[ -n "$d" ]]; then
        warn "################################################################"
        warn "the chroot's packages differ from those the tests last passed with"
        warn "(kernel/chroot-packages.txt; recorded -> this chroot):"
        while IFS= read -r l; do warn "    $l"; done <<<"$d"
        warn "################################################################"
    fi
}

# The QEMU launcher: runs the chroot's QEMU with the chroot's own dynamic
# loader and libraries, so no bind mounts or chroot are needed at run time.
write_qemu_launcher() {
    local l="$CHROOT/rsio-qemu"
    cat >"$l.tmp" <<LAUNCHER
#!/bin/sh
R="$CHROOT"
export QEMU_MODULE_DIR="\$R/usr/lib/x86_64-linux-gnu/qemu"
exec "\$R/usr/lib64/ld-linux-x86-64.so.2" --library-path "\$R/usr/lib/x86_64-linux-gnu:\$R/lib/x86_64-linux-gnu" \\
    "\$R/usr/bin/qemu-system-x86_64" -L "\$R/usr/share/qemu" -L "\$R/usr/share/seabios" "\$@"
LAUNCHER
    chmod +x "$l.tmp"
    mv "$l.tmp" "$l"
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
        # The drift check refreshes only the release's indexes (and apt
        # drops the others): fetch sid's and experimental's for the search.
        quiet "$RSIO_CACHE/source.log" in_chroot apt-get update
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
    log "building the kernel (about 17 minutes on 2 cores; log: $KBUILD/rsio-build.log)"
    local t0=$SECONDS
    quiet "$KBUILD/rsio-build.log" "${mk[@]}" bzImage modules
    quiet "$KBUILD/rsio-build.log" "${mk[@]}" INSTALL_MOD_PATH="$KBUILD/modroot" INSTALL_MOD_STRIP=1 modules_install
    log "kernel built in $((SECONDS - t0)) s"
    touch "$KBUILD/.rsio-built"
}

# The x86-64 system calls a kernel ($1: its System.map; $2: the source's
# syscall_64.tbl) was built without: Kconfig-dependent syscalls
# (COND_SYSCALL) whose implementation is compiled out are weak ENOSYS stubs,
# "W __x64_sys_<name>" in System.map. docs/build.md says which ones the
# guests lack on purpose.
absent_syscalls() {
    LC_ALL=C join <(awk '$2 == "W" && $3 ~ /^__x64_sys_/ { sub(/^__x64_sys_/, "", $3); print $3 }' "$1" | LC_ALL=C sort -u) \
        <(awk '$2 == "common" || $2 == "64" { e = $4; sub(/^sys_/, "", e); print e }' "$2" | LC_ALL=C sort -u)
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

# ------------------------------------------------------- report, record ------
# What the platform of $RSIO_FLAVOUR is made of, for the head of a test log:
# kernel source and toolchain, the chroot's packages (those from backports
# by name), the packages the guests' rootfs takes files from, the syscalls
# the guest kernel lacks, and where the chroot differs from the versions
# recorded in the repository. Needs a finished setup (its env file).
# The env file of a finished setup of $RSIO_FLAVOUR (dies if there is none).
platform_env() {
    local envf="$RSIO_CACHE/env-$RSIO_FLAVOUR.sh"
    [[ -f "$envf" ]] || die "no platform for flavour $RSIO_FLAVOUR yet (run tools/setup.sh)"
    echo "$envf"
}

step_report() {
    local envf
    envf="$(platform_env)"
    (
        source "$envf"
        echo "platform ($RSIO_FLAVOUR): $(basename "$RSIO_KSRC"), $(rustc --version | cut -d' ' -f1-2)," \
            "$(clang$RSIO_LLVM_SUFFIX --version | head -n1), $(bindgen --version)"
        echo "kernel: $RSIO_KDIR"
        echo "qemu: $("$RSIO_QEMU" --version | head -n1)"
        echo "chroot: $(basename "$RSIO_CHROOT"), $(wc -l <"$RSIO_CHROOT/rsio-packages.txt") packages; from $SUITE-backports:"
        local bpo
        bpo="$(grep '~bpo' "$RSIO_CHROOT/rsio-packages.txt" || true)"
        sed 's/^/    /' <<<"${bpo:-(none)}"
        echo "guest rootfs: packages it takes files from:"
        sed 's/^/    /' "$(dirname "$RSIO_ROOTFS")/packages.txt"
        local absent
        absent="$(absent_syscalls "$RSIO_KDIR/System.map" "$RSIO_KSRC/arch/x86/entry/syscalls/syscall_64.tbl")"
        echo "guest kernel: x86-64 syscalls built without ($(wc -l <<<"$absent")): $(tr '\n' ' ' <<<"$absent")"
        if [[ -f "$RECORDED_PACKAGES" ]]; then
            local d
            d="$(recorded_diff "$RSIO_CHROOT")"
            if [[ -n "$d" ]]; then
                echo "chroot differs from kernel/chroot-packages.txt (recorded -> this chroot):"
                sed 's/^/    /' <<<"$d"
            else
                echo "chroot matches kernel/chroot-packages.txt"
            fi
        fi
    )
}

# Records the chroot's versions as those the tests passed with: run it after
# a green `make test` on a freshly built chroot, and commit the file.
step_record() {
    local envf chroot
    envf="$(platform_env)"
    chroot="$(source "$envf" && echo "$RSIO_CHROOT")"
    {
        echo "# The chroot's packages (tools/setup.sh) the last green make test ran with,"
        echo "# from $(basename "$chroot"); tools/setup.sh compares every build with this"
        echo "# list and warns about each difference. Refresh: tools/setup.sh record."
        cat "$chroot/rsio-packages.txt"
    } >"$RECORDED_PACKAGES"
    log "recorded $(wc -l <"$chroot/rsio-packages.txt") package versions in $RECORDED_PACKAGES"
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
        report) step_report ;;
        record) step_record ;;
        *) die "unknown setup step '$s' (host chroot source kernel rootfs; report record)" ;;
        esac
    done
    if [[ -n "${KBUILD:-}" && -n "${ROOTFS:-}" ]]; then write_env; fi
    log "setup done in $((SECONDS - t0)) s"
}

main "$@"
