#!/usr/bin/env bash
# The README's main command: sets up everything (first run: about 20 minutes,
# mostly the kernel build; later runs: seconds), boots a 2-node emulated
# cluster, loads rsio's modules and shows them working.
source "$(dirname "$0")/lib.sh"
source "$RSIO_ROOT/tools/build.sh"
exec "$RSIO_ROOT/target/release/rsio-cluster" run --verbose \
    --log-dir "$RSIO_ROOT/target/demo-logs" "$RSIO_ROOT/tools/demo/cluster.toml"
