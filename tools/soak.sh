#!/usr/bin/env bash
# `make soak`: runs cluster scenarios over and over on the platform kernel,
# to catch what fails now and then (timeouts under load, races) and that one
# run of `make test` would miss. Not part of `make test` (CI time).
#
#   RSIO_SOAK_RUNS=10                          runs of each scenario
#   RSIO_SOAK_SCENARIOS="tests/cluster/lend_classes.toml"
#
# Ends with "soak: P passed, F failed" over all runs; every run's logs stay
# under target/soak-logs/<scenario>-<run>.
source "$(dirname "$0")/lib.sh"
source "$RSIO_ROOT/tools/build.sh"

runs="${RSIO_SOAK_RUNS:-10}"
read -r -a scenarios <<<"${RSIO_SOAK_SCENARIOS:-$RSIO_ROOT/tests/cluster/lend_classes.toml}"
logdir="$RSIO_ROOT/target/soak-logs"
mkdir -p "$logdir"
passed=0
failed=0
for s in "${scenarios[@]}"; do
    name="$(basename "$s" .toml)"
    for ((i = 1; i <= runs; i++)); do
        t0=$SECONDS
        if "$RSIO_ROOT/target/release/rsio-cluster" run --log-dir "$logdir/$name-$i" "$s" >"$logdir/$name-$i.log" 2>&1; then
            passed=$((passed + 1))
            log "$name run $i/$runs: passed in $((SECONDS - t0)) s"
        else
            failed=$((failed + 1))
            warn "$name run $i/$runs: FAILED in $((SECONDS - t0)) s (log: $logdir/$name-$i.log)"
            grep -E '^FAIL|  \[.*\] .* FAILED' "$logdir/$name-$i.log" | head -n 5 >&2 || true
        fi
    done
done
echo "soak: $passed passed, $failed failed"
((failed == 0))
