#!/usr/bin/env bash
# The README's main command: sets up everything (first run: 18.5 minutes
# measured on a bare 2-core machine after the host packages, 15 of them the
# kernel build; later runs: seconds), boots a 2-node emulated
# cluster, loads rsio's modules and shows them working.
source "$(dirname "$0")/lib.sh"
source "$RSIO_ROOT/tools/build.sh"
exec "$RSIO_ROOT/target/release/rsio-cluster" run --verbose \
    --log-dir "$RSIO_ROOT/target/demo-logs" "$RSIO_ROOT/tools/demo/cluster.toml"
