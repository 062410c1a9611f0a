#!/usr/bin/env bash
# The README's test command: sets up and builds everything, then runs
#   1. the host unit tests of every user-space crate (cargo test), then the
#      lint (make lint: rustfmt and clippy, kernel and user space, and
#      tools/kernel-metrics.py --check), counted as one test,
#   2. the cluster tests (tests/cluster/*.toml) on QEMU VMs via rsio-cluster,
#      on the $RSIO_FLAVOUR kernel (default: the default flavour), and
#   3. the fault tests (tests/cluster-debug/*.toml), on the kernel of
#      $RSIO_FAULTS_FLAVOUR (default: the same as part 2's; their scenarios
#      boot with kmemleak on). `make faults` runs them alone on the debug
#      kernel (KASAN, lockdep, kmemleak; setup builds it if the cache lacks
#      it, and rsio's modules are rebuilt against it): before closing an
#      issue that changes kernel code, not in CI (a second kernel build and
#      the debug kernel's slowness would take CI's time budget),
# and ends with one line "N passed, N failed" over all three. Before each
# part's scenarios it prints what the platform is made of (tools/setup.sh
# report: package versions, and where they differ from the recorded ones).
#
# Options (environment): RSIO_FLAVOUR=debug runs parts 2 and 3 on the debug
# kernel; RSIO_FAULTS_FLAVOUR=debug part 3 only; RSIO_TEST_PARTS="lint
# unit cluster faults" (the default) names the parts to run; RSIO_TEST_FILTER=
# substr runs only the cluster scenarios whose name has it (a part the
# filter leaves empty is skipped, its kernel build included).
source "$(dirname "$0")/lib.sh"

parts=" ${RSIO_TEST_PARTS:-lint unit cluster faults} "
faults_flavour="${RSIO_FAULTS_FLAVOUR:-$RSIO_FLAVOUR}"
passed=0
failed=0
logdir="$RSIO_ROOT/target/test-logs"
mkdir -p "$logdir"
runner="$RSIO_ROOT/target/release/rsio-cluster"

# The host packages (python3 for the runner's CLI tests among them), then
# the user-space workspace: the unit tests and the runner need no kernel.
"$RSIO_ROOT/tools/setup.sh" host
log "building rsio's user-space programs"
quiet "$RSIO_ROOT/target/cargo-build.log" cargo build --release --workspace --manifest-path "$RSIO_ROOT/Cargo.toml"

if [[ "$parts" == *" unit "* ]]; then
    log "host unit tests (cargo test --workspace, every crate even if one fails)"
    set +e
    cargo test --release --no-fail-fast --workspace --manifest-path "$RSIO_ROOT/Cargo.toml" 2>&1 | tee "$logdir/cargo-test.log"
    cargo_rc=${PIPESTATUS[0]}
    set -e
    read -r p f < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1) } }
                         END { print p + 0, f + 0 }' "$logdir/cargo-test.log")
    if ((cargo_rc != 0 && f == 0)); then f=1; fi # a crate that failed to build
    passed=$((passed + p))
    failed=$((failed + f))
fi

if [[ "$parts" == *" lint "* ]]; then
    "$RSIO_ROOT/tools/setup.sh"
    log "lint: make lint (rustfmt, clippy, tools/kernel-metrics.py --check)"
    if (source "$RSIO_CACHE/env-$RSIO_FLAVOUR.sh" &&
        make -C "$RSIO_ROOT" KDIR="$RSIO_KDIR" lint) >"$logdir/lint.log" 2>&1; then
        passed=$((passed + 1))
        log "lint: passed"
    else
        failed=$((failed + 1))
        tail -n 40 "$logdir/lint.log"
        log "lint: FAILED (whole log: $logdir/lint.log)"
    fi
fi

# Whether the filter leaves any scenario of directory $1 (if the directory
# does not load, say yes: the run reports why).
has_scenarios() {
    local names
    names="$("$runner" list ${RSIO_TEST_FILTER:+--filter "$RSIO_TEST_FILTER"} "$1" 2>/dev/null)" || return 0
    [[ -n "$names" ]]
}

# Runs the scenarios of directory $1 on the platform in the environment,
# logging under $logdir/$2, and adds their counts.
run_cluster() {
    local dir="$1" name="$2" rc p f t0=$SECONDS
    set +e
    "$runner" run --log-dir "$logdir/$name" \
        ${RSIO_TEST_FILTER:+--filter "$RSIO_TEST_FILTER"} "$dir" 2>&1 | tee "$logdir/$name.log"
    rc=${PIPESTATUS[0]}
    set -e
    read -r p f < <(sed -n 's/^cluster: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$logdir/$name.log" | tail -n1)
    p=${p:-0}
    f=${f:-0}
    if ((rc != 0 && f == 0)); then f=1; fi # the runner itself failed
    passed=$((passed + p))
    failed=$((failed + f))
    log "$name: $p passed, $f failed in $((SECONDS - t0)) s"
}

if [[ "$parts" != *" cluster "* ]]; then
    :
elif has_scenarios "$RSIO_ROOT/tests/cluster"; then
    source "$RSIO_ROOT/tools/build.sh"
    "$RSIO_ROOT/tools/setup.sh" report | tee "$logdir/platform-$RSIO_FLAVOUR.txt"
    log "cluster tests (tests/cluster, kernel flavour $RSIO_FLAVOUR)"
    run_cluster "$RSIO_ROOT/tests/cluster" cluster
else
    log "no scenario of tests/cluster matches '$RSIO_TEST_FILTER'"
fi

if [[ "$parts" != *" faults "* ]]; then
    :
elif has_scenarios "$RSIO_ROOT/tests/cluster-debug"; then
    # Set up (if need be) and build for the faults' kernel; a no-op switch
    # when part 2 already ran on it.
    if [[ "$faults_flavour" != "$RSIO_FLAVOUR" || -z "${RSIO_INITRD:-}" ]]; then
        export RSIO_FLAVOUR="$faults_flavour"
        source "$RSIO_ROOT/tools/build.sh"
        "$RSIO_ROOT/tools/setup.sh" report | tee "$logdir/platform-$RSIO_FLAVOUR.txt"
    fi
    log "fault tests (tests/cluster-debug, kernel flavour $RSIO_FLAVOUR)"
    run_cluster "$RSIO_ROOT/tests/cluster-debug" cluster-debug
else
    log "no scenario of tests/cluster-debug matches '$RSIO_TEST_FILTER'"
fi

echo "logs: $logdir"
echo "$passed passed, $failed failed"
((failed == 0))
