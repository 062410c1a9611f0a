#!/usr/bin/env bash
# Builds the guests' base initramfs from the trixie chroot's packages:
# dash as /bin/sh, busybox (static) for coreutils, and the real tools the tests
# use (lspci/setpci, fio, nvme-cli, ip, ping, ethtool, kmod; bash, GNU dd and
# cmp, ssh and sshd for the kernel's NTB selftest), each with the shared
# libraries it loads, plus pci.ids, the ssh configuration and tools/guest-init
# as /init.
# The ssh keys are not here: tools/mkoverlay.sh makes them per build.
#
# Usage: mkrootfs.sh CHROOT OUT.cpio
# It also writes packages.txt beside OUT.cpio: the chroot's packages the
# image takes files from ("name version"), for the platform report.
# The archive is uncompressed on purpose: under TCG the guest unpacks a
# plain cpio faster than it can gunzip one.
set -euo pipefail

chroot_dir="$1"
out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
stage="$(mktemp -d)"
copied="$(mktemp)"
trap 'rm -rf "$stage" "$copied"' EXIT

# Guest paths of the programs to ship.
# GNU dd and cmp, not busybox's, for ntb_test.sh: it fills debugfs files
# with "dd if=/dev/urandom of=FILE", which ends when a write returns 0 at the
# end of the file (busybox dd retries such a write forever), and compares
# windows with "cmp -n 0x...", a hex count busybox cmp rejects. GNU date
# for "date +%s%N" (the lending tests time a borrow), e2fsprogs for ext4.
programs=(
    /usr/bin/dash /usr/bin/lspci /usr/bin/setpci /usr/bin/fio /usr/sbin/nvme /usr/bin/ip
    /usr/bin/ping /usr/sbin/ethtool /usr/bin/kmod
    /usr/bin/bash /usr/bin/dd /usr/bin/cmp /usr/bin/ssh /usr/sbin/sshd
    /usr/lib/openssh/sshd-session /usr/lib/openssh/sshd-auth
    /usr/sbin/mke2fs /usr/sbin/mkfs.ext4 /usr/sbin/e2fsck /usr/bin/date
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
    echo "$real" >>"$copied"
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
printf '%s\n' /usr/bin/busybox /usr/share/misc/pci.ids >>"$copied"

install -m 0755 "$here/guest-init" "$stage/init"
# root's login shell is bash: ssh runs remote commands with it, and
# ntb_test.sh's remote commands use bash syntax ("[[ -e ... ]]"). The runner's
# steps still run with /bin/sh (dash). sshd is the privilege separation user.
cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
sshd:x:100:65534:sshd:/run/sshd:/usr/sbin/nologin
EOF
cat >"$stage/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
printf '/bin/sh\n/bin/bash\n' >"$stage/etc/shells"
printf '127.0.0.1 localhost\n' >"$stage/etc/hosts"

# ssh between the nodes, as root, with the per-build key of the overlay. The
# host key also comes from the overlay (generating one at boot is slow under
# TCG). sshd is not started at boot: a scenario that needs it runs
# "mkdir -p /run/sshd && /usr/sbin/sshd".
mkdir -p "$stage/etc/ssh"
cat >"$stage/etc/ssh/sshd_config" <<'EOF'
# rsio guests (tools/mkrootfs.sh): root logs in with the build's key only.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
# ntb_test.sh runs a few hundred short commands over one multiplexed
# connection.
MaxSessions 64
MaxStartups 64
PerSourcePenalties no
EOF
cat >"$stage/etc/ssh/ssh_config" <<'EOF'
# rsio guests (tools/mkrootfs.sh): the cluster's nodes (scenarios address them
# as 10.77.0.<node + 1> or node<i>; the boot check logs into its own node as
# localhost) reach each other as root with the build's key. Host keys change with every build: no checks, no known_hosts. One
# master connection per peer carries every command (a new key exchange per
# command is slow under TCG).
Host 10.77.0.* node* localhost 127.0.0.1
    User root
    IdentityFile /root/.ssh/id_ed25519
    BatchMode yes
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    LogLevel ERROR
    ConnectTimeout 60
    ServerAliveInterval 30
    ControlMaster auto
    ControlPath /run/ssh-%C
    ControlPersist 1800
EOF

# The packages the files came from (dpkg knows a file by the path its
# package ships, with or without the merged-/usr prefix); a file no package
# owns is listed as such rather than failing the build.
owner() {
    local o
    o="$(chroot "$chroot_dir" dpkg -S "$1" 2>/dev/null || chroot "$chroot_dir" dpkg -S "${1#/usr}" 2>/dev/null)" ||
        { echo "(no package) $1"; return 0; }
    chroot "$chroot_dir" dpkg-query -W -f='${Package} ${Version}\n' "${o%%:*}"
}
LC_ALL=C sort -u "$copied" | while read -r f; do owner "$f"; done | LC_ALL=C sort -u >"$(dirname "$out")/packages.txt"

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$out.tmp"
mv "$out.tmp" "$out"
echo "rootfs: $(du -h "$out" | cut -f1) in $out"
