//! `rsio-cluster`: boots clusters of QEMU guests and runs declarative test
//! scenarios (`tests/cluster/*.toml`) on them.
//!
//! ```text
//! rsio-cluster run [--kernel P] [--initrd P[:P...]] [--qemu P] [--fabric P]
//!                  [--log-dir D] [--keep] [--verbose] [--filter SUBSTR]
//!                  <scenario.toml | dir>...
//! rsio-cluster check <scenario.toml | dir>...
//! rsio-cluster list [--filter SUBSTR] <scenario.toml | dir>...
//! rsio-cluster qmp SOCKET JSON
//! ```
//!
//! Exit codes: 0 all scenarios passed, 1 some failed, 2 usage or
//! configuration error, 128+N interrupted by signal N. `qmp` (for host
//! steps: one command to a QEMU's QMP socket) prints the reply's `return`
//! and exits 0, or prints the error and exits 1 (2: the JSON is no
//! command).

mod cluster;
mod console;
mod fabric;
mod host;
mod hub;
mod logs;
mod node;
mod platform;
mod process;
mod protocol;
mod qemu;
mod qmp;
mod report;
mod rundir;
mod scenario;
mod signals;
mod verdict;

#[cfg(test)]
mod testutil;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::cluster::RunOptions;
use crate::platform::Platform;
use crate::scenario::Scenario;

const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "rsio-cluster",
    version,
    about = "Boots QEMU clusters and runs rsio test scenarios on them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios, one after the other.
    Run(RunArgs),
    /// Parse and validate scenarios without running them.
    Check {
        /// Scenario files, or directories of them (every *.toml, sorted).
        #[arg(required = true, value_name = "SCENARIO")]
        scenarios: Vec<PathBuf>,
    },
    /// Print the names of the scenarios `run` would run, one per line
    /// (none is no error: scripts use it to skip a set that the filter
    /// leaves empty).
    List {
        /// Only scenarios whose name contains SUBSTR.
        #[arg(long, value_name = "SUBSTR")]
        filter: Option<String>,
        /// Scenario files, or directories of them (every *.toml, sorted).
        #[arg(required = true, value_name = "SCENARIO")]
        scenarios: Vec<PathBuf>,
    },
    /// Send one command to a QEMU's QMP socket (e.g. a node's
    /// $RSIO_RUN_DIR/node<i>.qmp, from a host step) and print the reply's
    /// `return` as JSON; an error reply's description goes to stderr, exit 1.
    Qmp {
        /// The QMP unix socket.
        #[arg(value_name = "SOCKET")]
        socket: PathBuf,
        /// The command, one JSON object: {"execute":"...","arguments":{...}}.
        #[arg(value_name = "JSON")]
        command: String,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The guest kernel (default: $RSIO_KERNEL).
    #[arg(long, value_name = "P")]
    kernel: Option<PathBuf>,
    /// Initramfs parts to concatenate, separated by ':' (default:
    /// $RSIO_INITRD, else $RSIO_ROOTFS).
    #[arg(long, value_name = "P[:P...]")]
    initrd: Option<OsString>,
    /// The QEMU launcher (default: $RSIO_QEMU).
    #[arg(long, value_name = "P")]
    qemu: Option<PathBuf>,
    /// The fabric emulator, for scenarios with a [fabric] (default:
    /// $RSIO_FABRIC, else rsio-fabric next to rsio-cluster).
    #[arg(long, value_name = "P")]
    fabric: Option<PathBuf>,
    /// Where to keep logs, in one subdirectory per scenario.
    #[arg(long, value_name = "D", default_value = logs::DEFAULT_BASE)]
    log_dir: PathBuf,
    /// Keep each run directory (sockets, images, raw logs) for debugging.
    #[arg(long)]
    keep: bool,
    /// Print every step's output under its result line.
    #[arg(long)]
    verbose: bool,
    /// Run only scenarios whose name contains SUBSTR.
    #[arg(long, value_name = "SUBSTR")]
    filter: Option<String>,
    /// Scenario files, or directories of them (every *.toml, sorted).
    #[arg(required = true, value_name = "SCENARIO")]
    scenarios: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(args),
        Command::Check { scenarios } => check(&scenarios),
        Command::List { filter, scenarios } => list(filter.as_deref(), &scenarios),
        Command::Qmp { socket, command } => qmp_command(&socket, &command),
    }
}

fn qmp_command(socket: &std::path::Path, command: &str) -> ExitCode {
    let command = match qmp::parse_command(command) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match qmp::run_command(socket, &command) {
        Ok(value) => {
            // Not println!: a reader that stops early (`| head`) is no panic.
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout(), "{value}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            match e.downcast_ref::<qmp::QmpError>() {
                Some(error) => eprintln!("{error}"),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn list(filter: Option<&str>, args: &[PathBuf]) -> ExitCode {
    let Some(scenarios) = load_all(args) else {
        return ExitCode::from(EXIT_USAGE);
    };
    for scenario in filtered(scenarios, filter) {
        println!("{}", scenario.name);
    }
    ExitCode::SUCCESS
}

/// The scenarios whose name contains `filter` (all without one).
fn filtered(scenarios: Vec<Scenario>, filter: Option<&str>) -> Vec<Scenario> {
    match filter {
        Some(filter) => scenarios
            .into_iter()
            .filter(|s| s.name.contains(filter))
            .collect(),
        None => scenarios,
    }
}

fn check(args: &[PathBuf]) -> ExitCode {
    let Some(results) = load_each(args) else {
        return ExitCode::from(EXIT_USAGE);
    };
    let mut invalid = 0;
    for result in &results {
        match result {
            Ok(s) => println!(
                "ok   {}: {}, {} node{}{}{}, {} step{}",
                s.path.display(),
                s.name,
                s.nodes,
                plural(s.nodes),
                match s.chassis.len() {
                    0 => String::new(),
                    n => format!(" ({n} expansion chassis)"),
                },
                if s.fabric.is_some() {
                    " on the fabric"
                } else {
                    ""
                },
                s.steps.len(),
                plural(s.steps.len())
            ),
            Err(e) => {
                invalid += 1;
                println!("bad  {e:#}");
            }
        }
    }
    let duplicates = duplicate_names(results.iter().filter_map(|r| r.as_ref().ok()));
    for duplicate in &duplicates {
        println!("bad  {duplicate}");
    }
    println!(
        "check: {} valid, {} invalid",
        results.len() - invalid,
        invalid
    );
    if invalid > 0 || !duplicates.is_empty() {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::SUCCESS
    }
}

fn run(args: RunArgs) -> ExitCode {
    let Some(scenarios) = load_all(&args.scenarios) else {
        return ExitCode::from(EXIT_USAGE);
    };
    let scenarios = filtered(scenarios, args.filter.as_deref());
    if scenarios.is_empty() {
        eprintln!(
            "error: no scenario name contains {:?}",
            args.filter.unwrap_or_default()
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let env = |key: &str| std::env::var_os(key);
    let mut platform = match Platform::resolve(args.qemu, args.kernel, args.initrd, env) {
        Ok(platform) => platform,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if scenarios.iter().any(|s| s.fabric.is_some()) {
        let runner = std::env::current_exe().ok();
        if let Err(e) = platform.resolve_fabric(args.fabric, env, runner.as_deref()) {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    }
    if let Err(e) = signals::install() {
        eprintln!("error: {e:#}");
        return ExitCode::from(EXIT_USAGE);
    }
    let options = RunOptions {
        log_base: args.log_dir,
        run_base: rundir::base_from_env(),
        keep: args.keep,
        verbose: args.verbose,
    };
    match rundir::sweep_stale(&options.run_base) {
        Ok(removed) => {
            for path in removed {
                eprintln!(
                    "cluster: removed the stale run directory {}",
                    path.display()
                );
            }
        }
        Err(e) => eprintln!("cluster: warning: {e:#}"),
    }

    let (mut passed, mut failed) = (0, 0);
    for scenario in &scenarios {
        let outcome = match signals::received() {
            Some(signal) => Err(signals::Interrupted(signal)),
            None => cluster::run(scenario, &platform, &options),
        };
        match outcome {
            Ok(true) => passed += 1,
            Ok(false) => failed += 1,
            Err(interrupted) => {
                eprintln!("cluster: {interrupted}; cleaned up");
                return ExitCode::from(interrupted.exit_code());
            }
        }
    }
    println!("{}", report::summary(passed, failed));
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}

/// Loads every scenario; on any error prints all errors and returns `None`.
fn load_all(args: &[PathBuf]) -> Option<Vec<Scenario>> {
    let results = load_each(args)?;
    let mut scenarios = Vec::new();
    let mut ok = true;
    for result in results {
        match result {
            Ok(scenario) => scenarios.push(scenario),
            Err(e) => {
                eprintln!("error: {e:#}");
                ok = false;
            }
        }
    }
    for duplicate in duplicate_names(scenarios.iter()) {
        eprintln!("error: {duplicate}");
        ok = false;
    }
    ok.then_some(scenarios)
}

/// Expands the arguments and loads each scenario file; `None` (after
/// printing the error) if the arguments do not name scenario files.
fn load_each(args: &[PathBuf]) -> Option<Vec<anyhow::Result<Scenario>>> {
    match scenario::expand_paths(args) {
        Ok(paths) => Some(paths.iter().map(|path| Scenario::load(path)).collect()),
        Err(e) => {
            eprintln!("error: {e:#}");
            None
        }
    }
}

/// Scenario names used by more than one file: they would share log and run
/// directories.
fn duplicate_names<'a>(scenarios: impl Iterator<Item = &'a Scenario>) -> Vec<String> {
    let mut by_name: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for s in scenarios {
        by_name
            .entry(&s.name)
            .or_default()
            .push(s.path.display().to_string());
    }
    by_name
        .into_iter()
        .filter(|(_, paths)| paths.len() > 1)
        .map(|(name, paths)| format!("scenario name {name:?} is used by {}", paths.join(", ")))
        .collect()
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
