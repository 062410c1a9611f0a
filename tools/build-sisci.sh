#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds libsisci (the SISCI C library: target/release/libsisci.so and .a),
# the C examples against it with the host's cc, and target/release/sisci.pc.
# (`make install PREFIX=...` installs the library in the layout SISCI
# programs expect: docs/sisci.md.)
# The guests have no compiler: everything is built here and copied in (the
# guest installs libsisci.so in /usr/lib, so no rpath).
#
#   tools/build-sisci.sh            # release build
#   CC=clang tools/build-sisci.sh   # another compiler
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The host's cc (cargo links with it too), else the clang the platform
# installs for the kernel build.
if [ -z "${CC:-}" ]; then
    CC=cc
    command -v cc >/dev/null || CC="clang${RSIO_LLVM_SUFFIX:-}"
fi
OUT="$RSIO_ROOT/target/release"
INC="$RSIO_ROOT/sisci/include"
SRC="$RSIO_ROOT/sisci/examples/c"
CFLAGS="${CFLAGS:--O2 -g -std=gnu11 -Wall -Wextra -Werror}"

command -v "$CC" >/dev/null || die "no C compiler ($CC) on this host"
log "building libsisci (sisci-capi)"
cargo build --release -p sisci-capi --manifest-path "$RSIO_ROOT/Cargo.toml"
[ -f "$OUT/libsisci.so" ] && [ -f "$OUT/libsisci.a" ] || die "libsisci.so/.a missing in $OUT"

build() { # <output name> <source>
    log "cc $2 -> target/release/$1"
    # shellcheck disable=SC2086
    "$CC" $CFLAGS -I"$INC" -I"$INC/dis" -o "$OUT/$1" "$SRC/$2" -L"$OUT" -lsisci -lpthread -ldl
}
build sisci-pingpong pingpong.c
build sisci-bandwidth bandwidth.c
build sisci-intr-latency intr_latency.c
build sisci-multicast multicast.c
build sisci-c-smoke smoke.c
build sisci-compat-all compat-all.c
build sisci-nvme sisci-nvme.c
build sisci-edu sisci-edu.c
build sisci-physmem physmem.c

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$RSIO_ROOT/sisci/capi/Cargo.toml" | head -n1)"
# The guests' layout: /usr/lib, headers in /usr/include/sisci (make install
# PREFIX=... writes the one of /opt/DIS instead).
sed -e "s|@PREFIX@|/usr|" -e "s|@LIBDIR@|\${exec_prefix}/lib|" \
    -e "s|@INCLUDEDIR@|\${prefix}/include/sisci|" -e "s|@VERSION@|$version|" \
    "$RSIO_ROOT/sisci/capi/sisci.pc.in" >"$OUT/sisci.pc"
log "wrote target/release/sisci.pc (prefix=/usr)"
log "done: libsisci.so libsisci.a sisci-{pingpong,bandwidth,intr-latency,multicast,c-smoke,compat-all,nvme,edu,physmem} sisci.pc"
