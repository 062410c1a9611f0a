#!/usr/bin/env bash
# The README's test command: sets up and builds everything, then runs
#   1. the host unit tests of every user-space crate (cargo test), and
#   2. the cluster tests (tests/cluster/*.toml) on QEMU VMs via rsio-cluster,
# and ends with one line "N passed, N failed" over both.
#
# Options (environment): RSIO_FLAVOUR=debug picks the debug kernel;
# RSIO_TEST_FILTER=substr runs only the cluster scenarios whose name has it.
source "$(dirname "$0")/lib.sh"
source "$RSIO_ROOT/tools/build.sh"

passed=0
failed=0
logdir="$RSIO_ROOT/target/test-logs"
mkdir -p "$logdir"

log "host unit tests (cargo test --workspace)"
set +e
cargo test --release --workspace --manifest-path "$RSIO_ROOT/Cargo.toml" 2>&1 | tee "$logdir/cargo-test.log"
cargo_rc=${PIPESTATUS[0]}
set -e
read -r p f < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1) } }
                     END { print p + 0, f + 0 }' "$logdir/cargo-test.log")
if ((cargo_rc != 0 && f == 0)); then f=1; fi # a crate that failed to build
passed=$((passed + p))
failed=$((failed + f))

log "cluster tests (tests/cluster, kernel flavour $RSIO_FLAVOUR)"
set +e
"$RSIO_ROOT/target/release/rsio-cluster" run --log-dir "$logdir/cluster" \
    ${RSIO_TEST_FILTER:+--filter "$RSIO_TEST_FILTER"} "$RSIO_ROOT/tests/cluster" 2>&1 | tee "$logdir/cluster.log"
cluster_rc=${PIPESTATUS[0]}
set -e
read -r p f < <(sed -n 's/^cluster: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$logdir/cluster.log" | tail -n1)
p=${p:-0}
f=${f:-0}
if ((cluster_rc != 0 && f == 0)); then f=1; fi # the runner itself failed
passed=$((passed + p))
failed=$((failed + f))

echo "logs: $logdir"
echo "$passed passed, $failed failed"
((failed == 0))
