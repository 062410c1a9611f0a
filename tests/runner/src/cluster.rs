//! Running one scenario: set up the run directory, start the hubs, the
//! fabric emulator and the QEMUs, wait for every node to be ready, run the
//! steps (in the guests or on the host), shut down, and keep the logs.
//!
//! An expansion chassis (a fabric node without an OS) is started with the
//! nodes (first, so that its firmware is done early), counts as ready once
//! its QEMU answers on QMP, runs no steps, must keep running through the
//! steps, and is stopped with QMP `quit` at the end.
//!
//! Everything started is owned by a [`Cluster`] whose drop kills the QEMUs,
//! then stops the fabric emulator and the hubs, and the cluster lives inside
//! the [`RunDir`] guard that removes the run directory; so every way out of
//! a run (pass, failure, error, signal, panic) leaves nothing behind.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::console::{read_lossy, rejected_lines, tail};
use crate::fabric::{self, Emulator, Stopped};
use crate::host;
use crate::hub::Hub;
use crate::logs::LogDir;
use crate::node::{Ending, Node, StepRun};
use crate::platform::Platform;
use crate::qemu::{self, describe_exit, Boot, NodePaths, Ram, Vm};
use crate::report::{self, secs, Failure};
use crate::rundir::RunDir;
use crate::scenario::{DeviceKind, Fabric, Scenario, Step, Target};
use crate::signals::{Cancel, Cancelled, Interrupted};
use crate::verdict;

/// How long the nodes get to power off before they are killed.
const POWEROFF_GRACE: Duration = Duration::from_secs(15);
/// How long a QEMU may take to die of a `kill` step's SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(10);
/// How many console lines matching a reject pattern a failure lists.
const MAX_REJECTED_LINES: usize = 20;
/// How many lines of QEMU's own log a failed boot shows.
const QEMU_LOG_LINES: usize = 10;

/// Where a run keeps its files.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The base of the per-scenario log directories.
    pub log_base: PathBuf,
    /// The base of the per-run scratch directories.
    pub run_base: PathBuf,
    /// Keep the run directory for debugging.
    pub keep: bool,
    /// Print every step's output under its result line (for demos).
    pub verbose: bool,
}

/// Runs `scenario`, printing its progress and verdict on stdout; returns
/// whether it passed. Fails only if a signal interrupted it.
pub fn run(
    scenario: &Scenario,
    platform: &Platform,
    options: &RunOptions,
) -> Result<bool, Interrupted> {
    println!(
        "{}",
        report::run_line(&scenario.name, scenario.description.as_deref())
    );
    let started = Instant::now();
    let log_path = options.log_base.join(&scenario.name);
    let fail = |failure: &Failure, console: &str| {
        print!(
            "{}",
            report::fail_report(&scenario.name, failure, console, &log_path)
        );
        Ok(false)
    };
    let logs = match LogDir::create(&options.log_base, &scenario.name) {
        Ok(logs) => logs,
        Err(e) => return fail(&Failure::new(format!("{e:#}")), ""),
    };
    match execute(scenario, platform, options, &logs) {
        Ok(()) => {
            println!("{}", report::pass_line(&scenario.name, started.elapsed()));
            Ok(true)
        }
        Err(Abort::Failed(failure)) => {
            let console = failure
                .node
                .map(|node| read_lossy(&logs.console(node)))
                .unwrap_or_default();
            fail(&failure, &console)
        }
        Err(Abort::Interrupted(signal)) => Err(signal),
    }
}

/// Why a run stopped early.
#[derive(Debug)]
enum Abort {
    Failed(Failure),
    Interrupted(Interrupted),
}

impl From<Failure> for Abort {
    fn from(failure: Failure) -> Abort {
        Abort::Failed(failure)
    }
}

impl From<anyhow::Error> for Abort {
    fn from(error: anyhow::Error) -> Abort {
        match error.downcast_ref::<Interrupted>() {
            Some(signal) => Abort::Interrupted(*signal),
            None => Abort::Failed(Failure::new(format!("{error:#}"))),
        }
    }
}

/// Sets up, runs and tears down the cluster, then saves its logs.
fn execute(
    scenario: &Scenario,
    platform: &Platform,
    options: &RunOptions,
    logs: &LogDir,
) -> Result<(), Abort> {
    let run_dir = RunDir::create(&options.run_base, &scenario.name, options.keep)?;
    let mut cluster = Cluster {
        scenario,
        logs,
        verbose: options.verbose,
        dir: run_dir.path().to_owned(),
        nodes: Vec::new(),
        killed: Vec::new(),
        fabric: None,
        hubs: Vec::new(),
    };
    let result = cluster
        .start(platform, &run_dir)
        .and_then(|()| cluster.run_steps());
    let result = result.and_then(|()| cluster.shut_down());
    cluster.kill();
    for node in &cluster.nodes {
        if let Err(e) = logs.collect(node.index, &node.paths) {
            eprintln!("cluster: {e:#}");
        }
    }
    result
}

/// How one node's boot went.
enum BootOutcome {
    Ready,
    TimedOut,
    Failed(Failure),
    Cancelled,
}

/// The running parts of a scenario. Dropping it kills the QEMUs and then
/// stops the fabric emulator and the hubs (fields drop in declaration
/// order).
struct Cluster<'a> {
    scenario: &'a Scenario,
    logs: &'a LogDir,
    verbose: bool,
    /// The run directory (host steps run there).
    dir: PathBuf,
    nodes: Vec<Node>,
    /// The nodes `kill` steps have killed: no more steps, no poweroff, and
    /// their death is no failure.
    killed: Vec<usize>,
    fabric: Option<Emulator>,
    hubs: Vec<Hub>,
}

impl Cluster<'_> {
    /// Prepares the run directory, starts hubs, the fabric emulator and the
    /// QEMUs (from this thread, for the parent-death signal) and waits until
    /// every node is ready.
    fn start(&mut self, platform: &Platform, run_dir: &RunDir) -> Result<(), Abort> {
        let scenario = self.scenario;
        let dir = run_dir.path();
        let initrd = dir.join("initrd.img");
        concatenate(&platform.initrd, &initrd)?;

        for device in &scenario.devices {
            match &device.kind {
                DeviceKind::Qemu { size_mib, net, .. } => {
                    if let Some(size_mib) = *size_mib {
                        for &node in &device.nodes {
                            create_sparse(&qemu::disk_image(dir, node, device.index), size_mib)?;
                        }
                    }
                    if let Some(n) = *net {
                        for &node in &device.nodes {
                            run_dir.socket(&format!("node{node}-net{n}.sock"))?;
                        }
                        let hub = run_dir.socket(&format!("net{n}.hub"))?;
                        self.hubs.push(Hub::start(&hub)?);
                    }
                }
                &DeviceKind::Nvme {
                    size_mib,
                    namespaces,
                    ..
                } => {
                    for &node in &device.nodes {
                        for image in qemu::nvme_images(dir, node, device.index, namespaces) {
                            create_sparse(&image, size_mib)?;
                        }
                    }
                }
                DeviceKind::E1000e | DeviceKind::Igb => {
                    for &node in &device.nodes {
                        run_dir.socket(&format!("node{node}-net{}.sock", device.index))?;
                    }
                    let hub = run_dir.socket(&format!("net{}.hub", device.index))?;
                    self.hubs.push(Hub::start(&hub)?);
                }
            }
        }

        if let Some(fabric) = &scenario.fabric {
            self.start_fabric(fabric, platform, run_dir)?;
        }

        let boot = Boot {
            kernel: &platform.kernel,
            initrd: &initrd,
            run_dir: dir,
        };
        // The chassis first; `nodes` is in index order again below.
        let order = scenario
            .chassis
            .iter()
            .copied()
            .chain((0..scenario.nodes).filter(|&i| !scenario.is_chassis(i)));
        for index in order {
            let paths = NodePaths::new(dir, index);
            let chassis = scenario.is_chassis(index);
            if !chassis {
                run_dir.socket(&format!("node{index}.ctl"))?;
            }
            run_dir.socket(&format!("node{index}.qmp"))?;
            let fabric_args = match &self.fabric {
                Some(emulator) => Some(emulator.qemu_args(index)?),
                None => None,
            };
            let ram = fabric_args.as_deref().map_or(Ram::Memfd, Ram::Fabric);
            let argv = qemu::node_argv(scenario, &boot, index, ram);
            let vm = Vm::spawn(&platform.qemu, &argv, &paths.qemu_log)
                .with_context(|| format!("node {index}"))?;
            self.nodes.push(if chassis {
                Node::new_chassis(index, paths, vm)
            } else {
                Node::new(index, paths, vm)
            });
        }
        self.nodes.sort_by_key(|node| node.index);
        self.wait_ready()?;
        self.check_consoles()
    }

    /// Starts the fabric emulator in `<run dir>/fabric` and waits until it
    /// serves every node.
    fn start_fabric(
        &mut self,
        fabric: &Fabric,
        platform: &Platform,
        run_dir: &RunDir,
    ) -> Result<(), Abort> {
        let scenario = self.scenario;
        let binary = platform
            .fabric
            .as_deref()
            .context("the scenario has a [fabric] but no rsio-fabric was found")?;
        // Absolute: host steps get it in their environment, and run elsewhere.
        let dir = std::path::absolute(run_dir.path().join("fabric"))
            .context("cannot find the run directory")?;
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // The emulator's sockets must fit a unix socket path, too.
        run_dir.socket("fabric/control.sock")?;
        for index in 0..scenario.nodes {
            run_dir.socket(&format!("fabric/node{index}.sock"))?;
        }
        let argv = fabric::serve_argv(
            fabric,
            &dir,
            scenario.nodes,
            scenario.memory_mib,
            &scenario.chassis,
        );
        let log = self.logs.fabric();
        let started = Instant::now();
        let result = Emulator::start(
            binary,
            &argv,
            &dir,
            &log,
            fabric::READY_TIMEOUT,
            &Cancel::new(),
        );
        let ready = result.is_ok();
        println!(
            "{}",
            report::step_line("fabric", "start", ready, started.elapsed())
        );
        self.fabric = Some(result.map_err(|e| fabric_failure(e, &log))?);
        Ok(())
    }

    /// Waits for all nodes at once, then reports each node's boot.
    fn wait_ready(&mut self) -> Result<(), Abort> {
        let started = Instant::now();
        let deadline = started + self.scenario.boot_timeout;
        let results = self.wait_all_ready(deadline, started);

        let mut first_failure = None;
        let mut timed_out = Vec::new();
        for (index, (result, elapsed)) in results.into_iter().enumerate() {
            let failure = match self.boot_outcome(index, result)? {
                BootOutcome::Ready => None,
                BootOutcome::TimedOut => {
                    timed_out.push(index);
                    None
                }
                BootOutcome::Failed(failure) => Some(failure),
                // Another node failed; its failure tells the story.
                BootOutcome::Cancelled => continue,
            };
            let ready = failure.is_none() && timed_out.last() != Some(&index);
            println!(
                "{}",
                report::step_line(&format!("node{index}"), "boot", ready, elapsed)
            );
            let verb = match (ready, self.nodes[index].chassis) {
                (true, false) => "ready",
                (false, false) => "not ready",
                (true, true) => "chassis running (QMP answers)",
                (false, true) => "chassis not running (QMP does not answer)",
            };
            self.logs
                .note(index, &format!("{verb} after {}", secs(elapsed)))?;
            if first_failure.is_none() {
                first_failure = failure;
            }
        }
        if let Some(failure) = first_failure {
            return Err(failure.into());
        }
        if let Some(&first) = timed_out.first() {
            let list: Vec<String> = timed_out.iter().map(usize::to_string).collect();
            let why = if timed_out.iter().all(|&i| self.scenario.is_chassis(i)) {
                "an expansion chassis's QEMU does not answer on QMP"
            } else if timed_out.iter().any(|&i| self.scenario.is_chassis(i)) {
                "no @@RSIO-READY on the control port, or a chassis's QMP does not answer"
            } else {
                "no @@RSIO-READY on the control port"
            };
            let reason = format!(
                "node{} {} not ready within {} ({why})",
                if timed_out.len() > 1 { "s" } else { "" },
                list.join(", "),
                secs(self.scenario.boot_timeout)
            );
            return Err(Failure::new(reason).on(first).into());
        }
        Ok(())
    }

    /// Waits for every node's READY on its own thread; a node that fails
    /// (rather than just running out of time) cancels the others' waits.
    fn wait_all_ready(
        &mut self,
        deadline: Instant,
        started: Instant,
    ) -> Vec<(Result<Ending<()>>, Duration)> {
        let cancel = Cancel::new();
        std::thread::scope(|scope| {
            let waits: Vec<_> = self
                .nodes
                .iter_mut()
                .map(|node| {
                    let cancel = &cancel;
                    scope.spawn(move || {
                        let result = node.wait_ready(deadline, cancel);
                        if !matches!(result, Ok(Ending::Finished(()) | Ending::TimedOut)) {
                            cancel.cancel();
                        }
                        (result, started.elapsed())
                    })
                })
                .collect();
            waits
                .into_iter()
                .map(|wait| wait.join().expect("a boot wait panicked"))
                .collect()
        })
    }

    /// Classifies one node's boot; a signal aborts the run.
    fn boot_outcome(
        &mut self,
        index: usize,
        result: Result<Ending<()>>,
    ) -> Result<BootOutcome, Abort> {
        // A cancelled node may have failed on its own, too.
        let result = match result {
            Err(e) if e.is::<Cancelled>() => match self.nodes[index].wait_exit(Duration::ZERO)? {
                Some(status) => Ok(Ending::VmExited(status)),
                None => return Ok(BootOutcome::Cancelled),
            },
            result => result,
        };
        Ok(match result {
            Ok(Ending::Finished(())) => BootOutcome::Ready,
            Ok(Ending::TimedOut) => BootOutcome::TimedOut,
            Ok(Ending::VmExited(status)) => {
                let qemu_log = read_lossy(&self.nodes[index].paths.qemu_log);
                let details = tail(&qemu_log, QEMU_LOG_LINES)
                    .iter()
                    .map(|l| format!("qemu: {l}"))
                    .collect();
                let reason = format!(
                    "node {index}: QEMU exited during boot ({})",
                    describe_exit(status)
                );
                BootOutcome::Failed(Failure::new(reason).on(index).with_details(details))
            }
            Err(e) => match Abort::from(e) {
                Abort::Failed(failure) => BootOutcome::Failed(failure.on(index)),
                interrupted => return Err(interrupted),
            },
        })
    }

    fn run_steps(&mut self) -> Result<(), Abort> {
        let scenario = self.scenario;
        for step in &scenario.steps {
            match &step.target {
                Target::Host => self.run_host(step)?,
                Target::Kill(index) => self.kill_node(step, *index)?,
                Target::Nodes(_) if step.parallel => self.run_parallel(step)?,
                Target::Nodes(nodes) => {
                    for &index in nodes {
                        let run = self.nodes[index].run(&step.run, step.timeout, &Cancel::new())?;
                        self.judge(step, Some(index), run)?;
                    }
                }
            }
            self.check_fabric()?;
            self.check_chassis()?;
            self.check_consoles()?;
        }
        Ok(())
    }

    /// Fails if an expansion chassis's QEMU has exited: it runs no steps,
    /// so nothing else would notice.
    fn check_chassis(&mut self) -> Result<(), Abort> {
        for node in self.nodes.iter_mut().filter(|n| n.chassis) {
            let Some(status) = node.wait_exit(Duration::ZERO)? else {
                continue;
            };
            let qemu_log = read_lossy(&node.paths.qemu_log);
            let details = tail(&qemu_log, QEMU_LOG_LINES)
                .iter()
                .map(|l| format!("qemu: {l}"))
                .collect();
            let reason = format!(
                "expansion chassis node {}: QEMU exited during the run ({})",
                node.index,
                describe_exit(status)
            );
            return Err(Failure::new(reason).with_details(details).into());
        }
        Ok(())
    }

    /// Runs a host step (from this thread, for the parent-death signal).
    fn run_host(&mut self, step: &Step) -> Result<(), Abort> {
        let env = self.host_env();
        let shell = host::Shell {
            dir: &self.dir,
            env: &env,
        };
        let run = host::run(&step.run, step.timeout, &shell, &Cancel::new())?;
        self.judge(step, None, run)
    }

    /// Runs a `kill` step: SIGKILLs the node's QEMU (and its process
    /// group) and reaps it. The node must still be running: one that died
    /// on its own before is a failure, not something to hide behind the
    /// kill.
    fn kill_node(&mut self, step: &Step, index: usize) -> Result<(), Abort> {
        let started = Instant::now();
        let node = &mut self.nodes[index];
        if let Some(status) = node.wait_exit(Duration::ZERO)? {
            println!(
                "{}",
                report::step_line(
                    &format!("node{index}"),
                    &step.name,
                    false,
                    started.elapsed()
                )
            );
            let reason = format!(
                "step {:?}: node {index}'s QEMU had already exited ({}) before the kill",
                step.name,
                describe_exit(status)
            );
            return Err(Failure::new(reason).on(index).into());
        }
        node.kill();
        let status = node.wait_exit(KILL_GRACE)?;
        let killed = status.is_some();
        println!(
            "{}",
            report::step_line(
                &format!("node{index}"),
                &step.name,
                killed,
                started.elapsed()
            )
        );
        let Some(status) = status else {
            let reason = format!(
                "step {:?}: node {index}'s QEMU did not die within {} of SIGKILL",
                step.name,
                secs(KILL_GRACE)
            );
            return Err(Failure::new(reason).on(index).into());
        };
        self.logs.note(
            index,
            &format!(
                "killed by step {:?} ({}); no more steps run here",
                step.name,
                describe_exit(status)
            ),
        )?;
        self.killed.push(index);
        Ok(())
    }

    /// What host steps get besides the runner's environment: the node
    /// count, the run directory (where `node<i>.qmp` is) and the runner
    /// itself (for `$RSIO_CLUSTER qmp ...`) and, on a fabric, the
    /// emulator's directory and binary (for `$RSIO_FABRIC ctl --dir
    /// $RSIO_FABRIC_DIR ...`).
    fn host_env(&self) -> Vec<(String, OsString)> {
        let mut env = vec![(
            "RSIO_NODES".to_owned(),
            self.scenario.nodes.to_string().into(),
        )];
        let run_dir = std::path::absolute(&self.dir).unwrap_or_else(|_| self.dir.clone());
        env.push(("RSIO_RUN_DIR".to_owned(), run_dir.into()));
        if let Ok(runner) = std::env::current_exe() {
            env.push(("RSIO_CLUSTER".to_owned(), runner.into()));
        }
        if let Some(emulator) = &self.fabric {
            env.push(("RSIO_FABRIC_DIR".to_owned(), emulator.dir().into()));
            env.push(("RSIO_FABRIC".to_owned(), emulator.binary().into()));
        }
        env
    }

    /// Runs a step on all its nodes at once; reports them in list order.
    fn run_parallel(&mut self, step: &Step) -> Result<(), Abort> {
        let cancel = Cancel::new();
        let mut runs: Vec<(usize, Result<StepRun>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .nodes
                .iter_mut()
                .filter(|node| step.nodes().contains(&node.index))
                .map(|node| {
                    let cancel = &cancel;
                    scope.spawn(move || (node.index, node.run(&step.run, step.timeout, cancel)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a step thread panicked"))
                .collect()
        });
        runs.sort_by_key(|(index, _)| step.nodes().iter().position(|n| n == index));
        let mut first_failure = None;
        for (index, run) in runs {
            let verdict = run
                .map_err(Abort::from)
                .and_then(|run| self.judge(step, Some(index), run));
            if let Err(abort @ Abort::Interrupted(_)) = verdict {
                return Err(abort);
            }
            if first_failure.is_none() {
                first_failure = verdict.err();
            }
        }
        first_failure.map_or(Ok(()), Err)
    }

    /// Logs and prints a step's run on one node (`None`: on the host), and
    /// fails if it failed.
    fn judge(&self, step: &Step, node: Option<usize>, run: StepRun) -> Result<(), Abort> {
        let place = match node {
            Some(index) => {
                self.logs.step(index, &step.name, &step.run, &run)?;
                format!("node{index}")
            }
            None => {
                self.logs.host_step(&step.name, &step.run, &run)?;
                "host".to_owned()
            }
        };
        let problems = verdict::problems(step, &run);
        println!(
            "{}",
            report::step_line(&place, &step.name, problems.is_empty(), run.duration)
        );
        if self.verbose {
            for line in String::from_utf8_lossy(&run.output).lines() {
                println!("      | {line}");
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        let problems = problems.join("; ");
        let failure = match node {
            Some(index) => {
                Failure::new(format!("step {:?} on node {index}: {problems}", step.name)).on(index)
            }
            None => Failure::new(format!("host step {:?}: {problems}", step.name)),
        };
        Err(failure.with_output(run.output).into())
    }

    /// Fails if the fabric emulator has died.
    fn check_fabric(&mut self) -> Result<(), Abort> {
        let Some(emulator) = &mut self.fabric else {
            return Ok(());
        };
        match emulator.try_exit()? {
            None => Ok(()),
            Some(status) => Err(Failure::new(format!(
                "rsio-fabric exited during the run ({})",
                describe_exit(status)
            ))
            .with_details(fabric::log_tail(&self.logs.fabric()))
            .into()),
        }
    }

    /// Fails if any node's console matches a `console_reject` pattern (a
    /// chassis runs no kernel: not checked).
    fn check_consoles(&self) -> Result<(), Abort> {
        for node in self.nodes.iter().filter(|n| !n.chassis) {
            let console = read_lossy(&node.paths.console);
            let lines = rejected_lines(&console, &self.scenario.console_reject);
            if lines.is_empty() {
                continue;
            }
            let mut details: Vec<String> = lines
                .iter()
                .take(MAX_REJECTED_LINES)
                .map(|line| format!("console: {line}"))
                .collect();
            if lines.len() > MAX_REJECTED_LINES {
                details.push(format!(
                    "console: ... and {} more",
                    lines.len() - MAX_REJECTED_LINES
                ));
            }
            let reason = format!(
                "node {}'s console matches console_reject ({} line{})",
                node.index,
                lines.len(),
                if lines.len() == 1 { "" } else { "s" }
            );
            return Err(Failure::new(reason)
                .on(node.index)
                .with_details(details)
                .into());
        }
        Ok(())
    }

    /// Powers the nodes off, kills those that do not exit in time, and
    /// checks the complete consoles. The expansion chassis go after the
    /// nodes (whose shutdown may still reach their devices): QMP `quit`.
    /// How a node or chassis ends here is noted in its steps log, and is no
    /// failure.
    fn shut_down(&mut self) -> Result<(), Abort> {
        self.stop_nodes(false)?;
        self.stop_nodes(true)?;
        self.check_consoles()?;
        self.stop_fabric()
    }

    /// Stops the nodes still running (`chassis`: the expansion chassis).
    fn stop_nodes(&mut self, chassis: bool) -> Result<(), Abort> {
        let killed = &self.killed;
        let stopping = |n: &&mut Node| n.chassis == chassis && !killed.contains(&n.index);
        for node in self.nodes.iter_mut().filter(stopping) {
            if let Err(e) = node.request_poweroff() {
                self.logs
                    .note(node.index, &format!("poweroff request failed: {e:#}"))?;
            }
        }
        let deadline = Instant::now() + POWEROFF_GRACE;
        for node in self.nodes.iter_mut().filter(stopping) {
            let left = deadline.saturating_duration_since(Instant::now());
            let note = match node.wait_exit(left)? {
                Some(status) if chassis => {
                    format!("chassis QEMU quit ({})", describe_exit(status))
                }
                Some(status) => format!("powered off ({})", describe_exit(status)),
                None => {
                    node.kill();
                    format!("did not power off within {}; killed", secs(POWEROFF_GRACE))
                }
            };
            self.logs.note(node.index, &note)?;
        }
        Ok(())
    }

    /// Stops the fabric emulator once the nodes are gone; it must exit
    /// cleanly on SIGTERM.
    fn stop_fabric(&mut self) -> Result<(), Abort> {
        let Some(emulator) = &mut self.fabric else {
            return Ok(());
        };
        let reason = match emulator.stop(fabric::STOP_GRACE) {
            Stopped::Exited(status) if status.success() => return Ok(()),
            Stopped::Exited(status) => {
                format!(
                    "rsio-fabric did not stop cleanly ({})",
                    describe_exit(status)
                )
            }
            Stopped::Killed => format!(
                "rsio-fabric did not exit within {} of SIGTERM; killed",
                secs(fabric::STOP_GRACE)
            ),
        };
        Err(Failure::new(reason)
            .with_details(fabric::log_tail(&self.logs.fabric()))
            .into())
    }

    /// Kills whatever still runs (a no-op after a clean shutdown): the
    /// QEMUs first, then what they used.
    fn kill(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        if let Some(emulator) = &mut self.fabric {
            emulator.stop(fabric::STOP_GRACE);
        }
        self.hubs.clear();
    }
}

/// A failed start of the fabric emulator, with the end of its log.
fn fabric_failure(error: anyhow::Error, log: &Path) -> Abort {
    match Abort::from(error) {
        Abort::Failed(failure) => Abort::Failed(failure.with_details(fabric::log_tail(log))),
        interrupted => interrupted,
    }
}

/// Concatenates the initramfs parts into one file (the kernel unpacks
/// concatenated cpio archives one after the other).
fn concatenate(parts: &[PathBuf], to: &std::path::Path) -> Result<()> {
    let mut out = File::create(to).with_context(|| format!("cannot create {}", to.display()))?;
    for part in parts {
        let mut input =
            File::open(part).with_context(|| format!("cannot open {}", part.display()))?;
        std::io::copy(&mut input, &mut out)
            .with_context(|| format!("cannot copy {} into {}", part.display(), to.display()))?;
    }
    Ok(())
}

/// Creates a sparse file of `size_mib` MiB.
fn create_sparse(path: &std::path::Path, size_mib: u64) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.set_len(size_mib << 20)
        .with_context(|| format!("cannot size {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn initramfs_parts_are_concatenated_in_order() {
        let dir = TempDir::new("concat");
        let parts: Vec<PathBuf> = ["a", "b"].iter().map(|n| dir.path().join(n)).collect();
        std::fs::write(&parts[0], b"base").unwrap();
        std::fs::write(&parts[1], b"+modules").unwrap();
        let out = dir.path().join("initrd.img");
        concatenate(&parts, &out).unwrap();
        assert_eq!(std::fs::read(out).unwrap(), b"base+modules");
    }

    #[test]
    fn nvme_images_are_sparse() {
        let dir = TempDir::new("sparse");
        let image = dir.path().join("node0-nvme0.img");
        create_sparse(&image, 64).unwrap();
        let meta = std::fs::metadata(&image).unwrap();
        assert_eq!(meta.len(), 64 << 20);
        assert!(
            meta.blocks() * 512 < 1 << 20,
            "the image takes no real space"
        );
    }

    #[test]
    fn an_interrupt_passes_through_as_an_abort() {
        let abort = Abort::from(anyhow::Error::new(Interrupted(libc::SIGTERM)).context("waiting"));
        assert!(matches!(
            abort,
            Abort::Interrupted(Interrupted(libc::SIGTERM))
        ));
        let abort = Abort::from(anyhow::anyhow!("disk full"));
        assert!(matches!(abort, Abort::Failed(f) if f.reason == "disk full"));
    }
}
