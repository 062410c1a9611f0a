//! The `rsio-cluster` command line, end to end, against a fake QEMU
//! (`tests/fake-qemu.py`) that speaks the guest protocol without a kernel,
//! and a fake fabric emulator (`tests/fake-fabric.sh`).
//!
//! These tests need `python3` (tools/setup.sh installs it); without it they
//! say so and pass vacuously.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rsio-cluster");
const FAKE_QEMU: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-qemu.py");
const FAKE_FABRIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-fabric.sh");

/// A private world for one test: scenarios, fake platform files, the run
/// directory base and the log directory, all under one temp directory.
struct World {
    root: PathBuf,
}

impl World {
    /// `None` (after saying why) if python3 is missing.
    fn new() -> Option<World> {
        if Command::new("python3").arg("--version").output().is_err() {
            eprintln!("python3 is not installed: skipping the rsio-cluster CLI test");
            return None;
        }
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("rsio-cli-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for dir in ["scenarios", "run", "logs"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        std::fs::write(root.join("bzImage"), "kernel").unwrap();
        std::fs::write(root.join("base.cpio"), "base").unwrap();
        let qemu = root.join("qemu");
        std::fs::write(
            &qemu,
            format!("#!/bin/sh\nexec python3 {FAKE_QEMU} \"$@\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(&qemu, std::fs::Permissions::from_mode(0o755)).unwrap();
        Some(World { root })
    }

    fn scenario(&self, name: &str, text: &str) -> PathBuf {
        let path = self.root.join("scenarios").join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("RSIO_RUN_DIR", self.root.join("run"))
            .env("RSIO_QEMU", self.root.join("qemu"))
            .env("RSIO_KERNEL", self.root.join("bzImage"))
            .env("RSIO_INITRD", self.root.join("base.cpio"))
            .env("RSIO_FABRIC", FAKE_FABRIC)
            .env_remove("RSIO_ROOTFS")
            .stdin(Stdio::null());
        command
    }

    /// `rsio-cluster run --log-dir <logs> <args>`.
    fn run(&self, args: &[&str]) -> Run {
        let logs = self.root.join("logs");
        let mut all = vec!["run", "--log-dir", logs.to_str().unwrap()];
        all.extend(args);
        Run(self.command(&all).output().unwrap())
    }

    fn run_scenarios(&self) -> Run {
        self.run(&[self.root.join("scenarios").to_str().unwrap()])
    }

    fn log(&self, scenario: &str, file: &str) -> String {
        std::fs::read_to_string(self.root.join("logs").join(scenario).join(file))
            .unwrap_or_default()
    }

    /// What is left in the run directory base.
    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.root.join("run"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// Processes whose command line mentions this world (fake QEMUs).
    fn processes(&self) -> Vec<String> {
        let needle = self.root.to_string_lossy().into_owned();
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                if cmdline.contains(&needle) && !cmdline.contains(BIN) {
                    found.push(cmdline);
                }
            }
        }
        found
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A finished `rsio-cluster` run.
struct Run(Output);

impl Run {
    fn code(&self) -> i32 {
        self.0
            .status
            .code()
            .expect("rsio-cluster was killed by a signal")
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    fn lines(&self) -> Vec<String> {
        self.stdout().lines().map(str::to_owned).collect()
    }

    /// The step and verdict lines, without timings: `[node0] uname ... ok`.
    fn verdicts(&self) -> Vec<String> {
        self.lines()
            .iter()
            .filter(|l| l.starts_with("  [") || l.starts_with("PASS") || l.starts_with("FAIL"))
            .map(|l| without_timing(l.trim()).to_owned())
            .collect()
    }
}

/// `line` without a trailing ` (1.2s)`.
fn without_timing(line: &str) -> &str {
    match line.rsplit_once(" (") {
        Some((head, tail))
            if tail
                .strip_suffix("s)")
                .is_some_and(|t| t.parse::<f64>().is_ok()) =>
        {
            head
        }
        _ => line,
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.0.status,
            self.stdout(),
            self.stderr()
        )
    }
}

#[test]
fn a_passing_scenario_prints_each_step_and_a_summary_and_exits_0() {
    let Some(w) = World::new() else { return };
    w.scenario(
        "pair",
        r#"
        description = "two nodes"
        nodes = 2
        [[device]]
        kind = "e1000e"
        [[device]]
        kind = "nvme"
        nodes = [1]
        [[step]]
        name = "hello"
        run = "echo hello from $RSIO_NODE of $RSIO_NODES"
        expect = ['^hello from \d of 2$']
        [[step]]
        name = "together"
        parallel = true
        nodes = [1, 0]
        run = "sleep 0.2; echo done"
        "#,
    );
    let run = w.run_scenarios();
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.lines()[0], "RUN  pair: two nodes");
    assert_eq!(
        run.verdicts(),
        [
            "[node0] boot ... ok",
            "[node1] boot ... ok",
            "[node0] hello ... ok",
            "[node1] hello ... ok",
            "[node1] together ... ok",
            "[node0] together ... ok",
            "PASS pair",
        ],
        "{run:?}"
    );
    assert_eq!(run.lines().last().unwrap(), "cluster: 1 passed, 0 failed");

    let steps = w.log("pair", "node1.steps.log");
    assert!(
        steps.contains(
            "=== hello\n$ echo hello from $RSIO_NODE of $RSIO_NODES\nhello from 1 of 2\n=== rc 0"
        ),
        "{steps}"
    );
    assert!(steps.contains("# powered off (exit code 0)"), "{steps}");
    assert!(w
        .log("pair", "node0.console.log")
        .contains("reboot: Power down"));
    assert!(
        w.leftovers().is_empty(),
        "run directory left behind: {:?}",
        w.leftovers()
    );
    assert!(w.processes().is_empty(), "{:?}", w.processes());
}

#[test]
fn a_failing_step_fails_its_scenario_with_an_excerpt_and_the_next_scenario_still_runs() {
    let Some(w) = World::new() else { return };
    w.scenario(
        "a-fails",
        r#"
        [[step]]
        name = "wrong rc"
        run = "echo some output; exit 4"
        [[step]]
        name = "never runs"
        run = "true"
        "#,
    );
    w.scenario("b-passes", "[[step]]\nrun = 'true'\n");
    let run = w.run_scenarios();
    assert_eq!(run.code(), 1, "{run:?}");
    assert_eq!(
        run.verdicts(),
        [
            "[node0] boot ... ok",
            "[node0] wrong rc ... FAILED",
            "FAIL a-fails: step \"wrong rc\" on node 0: exit code 4, expected 0",
            "[node0] boot ... ok",
            "[node0] step 1 ... ok",
            "PASS b-passes",
        ],
        "{run:?}"
    );
    let out = run.stdout();
    assert!(
        out.contains("    --- node0 step output (last 1 lines) ---\n    some output\n"),
        "{out}"
    );
    // The console excerpt may or may not include the fake guest's poweroff
    // line yet, depending on when the runner reads it.
    assert!(out.contains("    --- node0 console (last "), "{out}");
    assert!(
        out.contains("\n    [    0.000000] Linux version 0.0-fake"),
        "{out}"
    );
    assert_eq!(run.lines().last().unwrap(), "cluster: 1 passed, 1 failed");
    assert!(w.leftovers().is_empty(), "{:?}", w.leftovers());
    assert!(w.processes().is_empty(), "{:?}", w.processes());
}

#[test]
fn a_step_that_overruns_its_timeout_fails_with_its_partial_output() {
    let Some(w) = World::new() else { return };
    w.scenario(
        "slow",
        "[[step]]\nname = 'hang'\ntimeout = 1\nrun = 'echo begun; sleep 30'\n",
    );
    let started = Instant::now();
    let run = w.run_scenarios();
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the timeout was not enforced"
    );
    assert!(
        run.stdout()
            .contains("FAIL slow: step \"hang\" on node 0: timed out after 1.0s"),
        "{run:?}"
    );
    assert!(run.stdout().contains("    begun\n"), "{run:?}");
    assert!(w
        .log("slow", "node0.steps.log")
        .contains("begun\n=== TIMED OUT"));
    assert!(w.processes().is_empty(), "{:?}", w.processes());
}

#[test]
fn a_console_message_matching_console_reject_fails_the_scenario() {
    let Some(w) = World::new() else { return };
    w.scenario(
        "warns",
        r#"
        [[step]]
        run = "echo '[    1.5] WARNING: CPU: 0 PID: 1 at fake.c:1' >> $RSIO_CONSOLE"
        [[step]]
        name = "never runs"
        run = "true"
        "#,
    );
    let run = w.run_scenarios();
    assert_eq!(run.code(), 1, "{run:?}");
    assert_eq!(
        run.verdicts(),
        [
            "[node0] boot ... ok",
            "[node0] step 1 ... ok",
            "FAIL warns: node 0's console matches console_reject (1 line)",
        ]
    );
    assert!(
        run.stdout()
            .contains("    console: [    1.5] WARNING: CPU: 0 PID: 1 at fake.c:1\n"),
        "{run:?}"
    );
}

#[test]
fn a_qemu_that_exits_during_boot_is_reported_with_its_own_log() {
    let Some(w) = World::new() else { return };
    w.scenario("crash", "nodes = 2\ncmdline = 'fake.exit=3'\n");
    let run = w.run_scenarios();
    assert_eq!(run.code(), 1, "{run:?}");
    let out = run.stdout();
    // Both nodes fail; the first one noticed is reported.
    assert!(
        out.contains(": QEMU exited during boot (exit code 3)\n"),
        "{out}"
    );
    assert!(
        out.contains("    qemu: fake-qemu: exiting as asked\n"),
        "{out}"
    );
    // The other node is cancelled as soon as one fails, so it may be
    // killed before its QEMU has said anything: only the reported node's
    // log is sure to be complete.
    let reported = out
        .lines()
        .find_map(|l| l.strip_prefix("FAIL crash: node ")?.split(':').next())
        .unwrap_or_else(|| panic!("no failing node in {out}"));
    let log = w.log("crash", &format!("node{reported}.qemu.log"));
    assert!(log.contains("exiting as asked"), "node {reported}: {log}");
}

#[test]
fn a_node_that_never_gets_ready_fails_at_the_boot_timeout() {
    let Some(w) = World::new() else { return };
    w.scenario("mute", "boot_timeout = 1\ncmdline = 'fake.silent=1'\n");
    let run = w.run_scenarios();
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(
        run.stdout()
            .contains("FAIL mute: node 0 not ready within 1.0s"),
        "{run:?}"
    );
    assert!(w.processes().is_empty(), "{:?}", w.processes());
}

#[test]
fn sigterm_cleans_up_and_exits_143() {
    let Some(w) = World::new() else { return };
    w.scenario(
        "long",
        "nodes = 2\n[[step]]\nrun = 'sleep 60'\ntimeout = 120\n",
    );
    let logs = w.root.join("logs");
    let child: Child = w
        .command(&[
            "run",
            "--log-dir",
            logs.to_str().unwrap(),
            w.root.join("scenarios").to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the step runs on node 0, then stop the runner.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !w.log("long", "node1.steps.log").contains("ready after") {
        assert!(Instant::now() < deadline, "the nodes never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !w.processes().is_empty(),
        "the fake QEMUs should be running"
    );
    // SAFETY: kill(2) of the runner this test started; no memory is involved.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let run = Run(child.wait_with_output().unwrap());
    assert_eq!(run.code(), 143, "{run:?}");
    assert!(
        run.stderr()
            .contains("cluster: interrupted by SIGTERM; cleaned up"),
        "{run:?}"
    );
    assert!(w.leftovers().is_empty(), "{:?}", w.leftovers());
    assert!(w.processes().is_empty(), "{:?}", w.processes());
}

#[test]
fn the_filter_picks_scenarios_by_name() {
    let Some(w) = World::new() else { return };
    w.scenario("alpha", "[[step]]\nrun = 'true'\n");
    w.scenario("beta", "[[step]]\nrun = 'true'\n");
    let run = w.run(&[
        "--filter",
        "bet",
        w.root.join("scenarios").to_str().unwrap(),
    ]);
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(
        run.verdicts(),
        ["[node0] boot ... ok", "[node0] step 1 ... ok", "PASS beta"]
    );
    let run = w.run(&[
        "--filter",
        "gamma",
        w.root.join("scenarios").to_str().unwrap(),
    ]);
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(
        run.stderr().contains("no scenario name contains \"gamma\""),
        "{run:?}"
    );
}

#[test]
fn stale_run_directories_of_dead_runners_are_swept() {
    let Some(w) = World::new() else { return };
    let stale = w.root.join("run").join("run-2147483632-old");
    std::fs::create_dir_all(&stale).unwrap();
    w.scenario("one", "[[step]]\nrun = 'true'\n");
    let run = w.run_scenarios();
    assert_eq!(run.code(), 0, "{run:?}");
    assert!(
        run.stderr().contains("removed the stale run directory"),
        "{run:?}"
    );
    assert!(!stale.exists());
}

#[test]
fn configuration_errors_exit_2_before_anything_runs() {
    let Some(w) = World::new() else { return };
    let bad = w.scenario("bad", "nodes = 2\nmemory = 512\n");
    let run = w.run(&[bad.to_str().unwrap()]);
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(
        run.stderr().contains("bad.toml: not a valid scenario"),
        "{run:?}"
    );
    assert!(run.stderr().contains("unknown field `memory`"), "{run:?}");
    assert!(run.stdout().is_empty(), "{run:?}");

    let good = w.scenario("good", "[[step]]\nrun = 'true'\n");
    let run = Run(w
        .command(&["run", good.to_str().unwrap()])
        .env("RSIO_KERNEL", "/nonexistent/bzImage")
        .output()
        .unwrap());
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(
        run.stderr()
            .contains("kernel: /nonexistent/bzImage not found"),
        "{run:?}"
    );
}

#[test]
fn check_validates_without_running() {
    let Some(w) = World::new() else { return };
    w.scenario("good", "nodes = 2\n[[step]]\nrun = 'true'\n");
    let run = Run(w
        .command(&["check", w.root.join("scenarios").to_str().unwrap()])
        .output()
        .unwrap());
    assert_eq!(run.code(), 0, "{run:?}");
    assert!(run.stdout().contains("good, 2 nodes, 1 step\n"), "{run:?}");
    w.scenario("worse", "[[step]]\nrun = 'true'\nnode = 3\n");
    let run = Run(w
        .command(&["check", w.root.join("scenarios").to_str().unwrap()])
        .output()
        .unwrap());
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(run.stdout().contains("node 3 does not exist"), "{run:?}");
    assert!(
        run.stdout().contains("check: 1 valid, 1 invalid"),
        "{run:?}"
    );
}

#[test]
fn the_repositorys_scenarios_are_valid() {
    for dir in ["/../cluster", "/../cluster-debug", "/../upstream-bugs"] {
        let scenarios = format!("{}{dir}", env!("CARGO_MANIFEST_DIR"));
        if !Path::new(&scenarios).is_dir() {
            continue;
        }
        let run = Run(Command::new(BIN)
            .args(["check", &scenarios])
            .output()
            .unwrap());
        assert_eq!(run.code(), 0, "{scenarios}: {run:?}");
    }
}

#[test]
fn a_fabric_scenario_boots_its_nodes_on_the_emulator_and_runs_host_steps() {
    let Some(w) = World::new() else { return };
    w.scenario(
        "fab",
        r#"
        nodes = 2
        [fabric]
        multicast = [[0, 1]]
        lut_slots = 32
        [[step]]
        name = "ram"
        node = 1
        run = "echo \"$RSIO_QEMU_ARGS\""
        expect = ['^memory-backend-file,id=ram,mem-path=.*/fabric/fabric\.mem,', 'node1\.sock']
        reject = ['memory-backend-memfd']
        [[step]]
        name = "link down"
        host = '"$RSIO_FABRIC" ctl --dir "$RSIO_FABRIC_DIR" link-down 1 && echo "nodes $RSIO_NODES"'
        expect = ['"ok":true', '^nodes 2$']
        "#,
    );
    let run = w.run_scenarios();
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(
        run.verdicts(),
        [
            "[fabric] start ... ok",
            "[node0] boot ... ok",
            "[node1] boot ... ok",
            "[node1] ram ... ok",
            "[host] link down ... ok",
            "PASS fab",
        ],
        "{run:?}"
    );
    let fabric = w.log("fab", "fabric.log");
    assert!(
        fabric.contains("--nodes 2 --ram-mib 384 --multicast 0,1 --lut-slots 32"),
        "{fabric}"
    );
    assert!(
        fabric.contains("rsio-fabric: ready\n"),
        "stdout is logged too: {fabric}"
    );
    assert!(
        fabric.contains("fake-fabric: SIGTERM, stopping"),
        "stopped with SIGTERM: {fabric}"
    );
    let host = w.log("fab", "host.steps.log");
    assert!(
        host.contains("=== link down\n$ \"$RSIO_FABRIC\" ctl"),
        "{host}"
    );
    assert!(host.contains("nodes 2\n=== rc 0"), "{host}");
    assert!(w.leftovers().is_empty(), "{:?}", w.leftovers());
    assert!(w.processes().is_empty(), "{:?}", w.processes());
}

#[test]
fn a_fabric_that_fails_to_start_fails_its_scenario_with_the_end_of_its_log() {
    let Some(w) = World::new() else { return };
    w.scenario(
        "unlucky",
        "nodes = 2\n[fabric]\nlut_slots = 13\n[[step]]\nrun = 'true'\n",
    );
    let run = w.run_scenarios();
    assert_eq!(run.code(), 1, "{run:?}");
    assert_eq!(
        run.verdicts(),
        [
            "[fabric] start ... FAILED",
            "FAIL unlucky: rsio-fabric exited before it was ready (exit code 2)",
        ],
        "no QEMU starts: {run:?}"
    );
    assert!(
        run.stdout()
            .contains("    fabric: rsio-fabric: lut_slots 13 is unlucky\n"),
        "{run:?}"
    );
    assert!(w.leftovers().is_empty(), "{:?}", w.leftovers());
}

#[test]
fn a_failing_host_step_fails_its_scenario_with_its_output() {
    let Some(w) = World::new() else { return };
    w.scenario(
        "hosted",
        r#"
        [[step]]
        name = "inject"
        host = "echo 'no such node' >&2; exit 3"
        [[step]]
        name = "never runs"
        run = "true"
        "#,
    );
    let run = w.run_scenarios();
    assert_eq!(run.code(), 1, "{run:?}");
    assert_eq!(
        run.verdicts(),
        [
            "[node0] boot ... ok",
            "[host] inject ... FAILED",
            "FAIL hosted: host step \"inject\": exit code 3, expected 0",
        ],
        "{run:?}"
    );
    assert!(
        run.stdout()
            .contains("    --- host step output (last 1 lines) ---\n    no such node\n"),
        "{run:?}"
    );
}

#[test]
fn a_fabric_scenario_needs_the_emulator() {
    let Some(w) = World::new() else { return };
    let s = w.scenario("fab", "nodes = 2\n[fabric]\n");
    let run = w.run(&["--fabric", "/nonexistent/rsio-fabric", s.to_str().unwrap()]);
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(
        run.stderr().contains("/nonexistent/rsio-fabric not found"),
        "{run:?}"
    );
    assert!(
        run.stderr().contains("cargo build --release -p rsio-emu"),
        "{run:?}"
    );
    assert!(run.stdout().is_empty(), "nothing ran: {run:?}");
}

#[test]
fn a_kill_step_kills_a_node_which_then_gets_no_more_steps_and_does_not_fail_the_run() {
    let Some(w) = World::new() else { return };
    w.scenario(
        "dies",
        r#"
        nodes = 3
        [fabric]
        [[step]]
        name = "before"
        run = "echo alive"
        [[step]]
        name = "node 1 dies"
        kill = 1
        [[step]]
        name = "after"
        run = "echo still here: $RSIO_NODE"
        expect = ['^still here: [02]$']
        [[step]]
        name = "the host sees it"
        host = '"$RSIO_FABRIC" ctl --dir "$RSIO_FABRIC_DIR" status'
        "#,
    );
    let run = w.run_scenarios();
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(
        run.verdicts(),
        [
            "[fabric] start ... ok",
            "[node0] boot ... ok",
            "[node1] boot ... ok",
            "[node2] boot ... ok",
            "[node0] before ... ok",
            "[node1] before ... ok",
            "[node2] before ... ok",
            "[node1] node 1 dies ... ok",
            "[node0] after ... ok",
            "[node2] after ... ok",
            "[host] the host sees it ... ok",
            "PASS dies",
        ],
        "{run:?}"
    );
    let steps = w.log("dies", "node1.steps.log");
    assert!(
        steps.contains(
            "# killed by step \"node 1 dies\" (killed by signal 9); no more steps run here"
        ),
        "{steps}"
    );
    assert!(!steps.contains("=== after"), "{steps}");
    assert!(
        !steps.contains("powered off"),
        "no poweroff for the dead: {steps}"
    );
    assert!(
        !w.log("dies", "node1.console.log")
            .contains("reboot: Power down"),
        "node 1 died, it did not power off"
    );
    for node in [0, 2] {
        let steps = w.log("dies", &format!("node{node}.steps.log"));
        assert!(steps.contains("=== after"), "{steps}");
        assert!(steps.contains("# powered off (exit code 0)"), "{steps}");
    }
    assert!(w.leftovers().is_empty(), "{:?}", w.leftovers());
    assert!(w.processes().is_empty(), "{:?}", w.processes());
}

#[test]
fn a_kill_step_fails_if_its_node_had_already_died() {
    let Some(w) = World::new() else { return };
    w.scenario(
        "died-before",
        r#"
        nodes = 2
        [[step]]
        name = "node 1 crashes soon"
        node = 1
        run = "(sleep 0.3; kill -9 $PPID) >/dev/null 2>&1 &"
        [[step]]
        name = "wait for it"
        host = "sleep 2"
        [[step]]
        name = "node 1 dies"
        kill = 1
        [[step]]
        name = "never runs"
        run = "true"
        "#,
    );
    let run = w.run_scenarios();
    assert_eq!(run.code(), 1, "{run:?}");
    assert_eq!(
        run.verdicts(),
        [
            "[node0] boot ... ok",
            "[node1] boot ... ok",
            "[node1] node 1 crashes soon ... ok",
            "[host] wait for it ... ok",
            "[node1] node 1 dies ... FAILED",
            "FAIL died-before: step \"node 1 dies\": node 1's QEMU had already exited \
             (killed by signal 9) before the kill",
        ],
        "{run:?}"
    );
    assert!(w.processes().is_empty(), "{:?}", w.processes());
}

#[test]
fn list_names_the_scenarios_a_filter_picks_and_an_empty_list_is_no_error() {
    let Some(w) = World::new() else { return };
    w.scenario("alpha", "[[step]]\nrun = 'true'\n");
    w.scenario("beta", "name = 'beta-renamed'\n[[step]]\nrun = 'true'\n");
    let dir = w.root.join("scenarios");
    let list = |args: &[&str]| {
        let mut all = vec!["list"];
        all.extend(args);
        all.push(dir.to_str().unwrap());
        Run(w.command(&all).output().unwrap())
    };
    let run = list(&[]);
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.lines(), ["alpha", "beta-renamed"]);
    let run = list(&["--filter", "renamed"]);
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.lines(), ["beta-renamed"]);
    let run = list(&["--filter", "gamma"]);
    assert_eq!(run.code(), 0, "{run:?}");
    assert!(run.stdout().is_empty(), "{run:?}");
    w.scenario("broken", "nodes = 9\n");
    let run = list(&[]);
    assert_eq!(run.code(), 2, "invalid scenarios are still errors: {run:?}");
}

#[test]
fn an_expansion_chassis_boots_without_a_kernel_runs_no_steps_and_answers_qmp_from_host_steps() {
    let Some(w) = World::new() else { return };
    w.scenario(
        "chassis",
        r#"
        nodes = 3
        chassis = [2]
        [fabric]
        [[device]]
        kind = "nvme"
        nodes = [2]
        [[device]]
        kind = "e1000e"
        [[step]]
        name = "every node"
        run = "echo node $RSIO_NODE"
        parallel = true
        [[step]]
        name = "hot add"
        host = '''
        q() { "$RSIO_CLUSTER" qmp "$RSIO_RUN_DIR/node2.qmp" "$1"; }
        q '{"execute":"device_add","arguments":{"driver":"nvme","id":"hot","bus":"chs1","serial":"h"}}'
        q '{"execute":"device_del","arguments":{"id":"hot"}}'
        q '{"execute":"query-status"}'
        q '{"execute":"nonsense"}' || echo "rc $?"
        echo "dir $RSIO_RUN_DIR"
        '''
        expect = ['^\{\}\n\{\}\n', '"status":"running"', '^The command nonsense has not been found\nrc 1$', '^dir /.*/run-']
        "#,
    );
    let run = w.run_scenarios();
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(
        run.verdicts(),
        [
            "[fabric] start ... ok",
            "[node0] boot ... ok",
            "[node1] boot ... ok",
            "[node2] boot ... ok",
            "[node0] every node ... ok",
            "[node1] every node ... ok",
            "[host] hot add ... ok",
            "PASS chassis",
        ],
        "{run:?}"
    );
    let fabric = w.log("chassis", "fabric.log");
    assert!(
        fabric.contains("--nodes 3 --ram-mib 384 --chassis 2"),
        "{fabric}"
    );
    let console = w.log("chassis", "node2.console.log");
    for line in [
        "fake-chassis: arg pcie-root-port,id=chs0,chassis=1,slot=0,addr=0x4.0,bus=pcie.0\n",
        "fake-chassis: arg nvme,serial=rsio2n0,drive=nvme0,bus=chs0\n",
        "fake-chassis: arg pcie-root-port,id=chs2,chassis=3,slot=2,addr=0x6.0,bus=pcie.0\n",
        "fake-chassis: device_add {\"driver\": \"nvme\", \"id\": \"hot\", \"bus\": \"chs1\", \"serial\": \"h\"}\n",
        "fake-chassis: device_del {\"id\": \"hot\"}\n",
        "fake-chassis: quit\n",
    ] {
        assert!(console.contains(line), "{line:?} missing: {console}");
    }
    for absent in ["-kernel", "chs3", "rsio.ctl", "e1000e"] {
        assert!(!console.contains(absent), "{absent:?}: {console}");
    }
    let steps = w.log("chassis", "node2.steps.log");
    assert!(
        steps.contains("# chassis running (QMP answers) after"),
        "{steps}"
    );
    assert!(
        steps.contains("# chassis QEMU quit (exit code 0)"),
        "{steps}"
    );
    assert!(!steps.contains("==="), "no steps on a chassis: {steps}");
    assert!(w.leftovers().is_empty(), "{:?}", w.leftovers());
    assert!(w.processes().is_empty(), "{:?}", w.processes());
}

#[test]
fn a_chassis_that_exits_during_the_run_fails_the_scenario() {
    let Some(w) = World::new() else { return };
    w.scenario(
        "chassis-quits",
        r#"
        nodes = 2
        chassis = [0]
        [fabric]
        [[step]]
        name = "quit the chassis"
        host = '"$RSIO_CLUSTER" qmp "$RSIO_RUN_DIR/node0.qmp" "{\"execute\":\"quit\"}" && sleep 1'
        [[step]]
        name = "never runs"
        run = "true"
        "#,
    );
    let run = w.run_scenarios();
    assert_eq!(run.code(), 1, "{run:?}");
    assert_eq!(
        run.verdicts(),
        [
            "[fabric] start ... ok",
            "[node0] boot ... ok",
            "[node1] boot ... ok",
            "[host] quit the chassis ... ok",
            "FAIL chassis-quits: expansion chassis node 0: QEMU exited during the run \
             (exit code 0)",
        ],
        "{run:?}"
    );
    assert!(w.processes().is_empty(), "{:?}", w.processes());
}
