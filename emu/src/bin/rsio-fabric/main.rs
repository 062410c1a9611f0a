//! `rsio-fabric`: serves an emulated RSIO-NTB1 fabric (docs/adapter.md) to
//! a cluster of QEMU VMs, and steers it while they run.
//!
//! ```text
//! rsio-fabric serve --dir DIR --nodes N [--ram-mib M] [--lut-slots S] [--slot-shift K]
//!                   [--in-windows W] [--dma-channels C] [--multicast 0,1 ...] [--no-direct]
//!                   [--no-direct-alias] [--chassis N ...]
//! rsio-fabric ctl --dir DIR COMMAND...
//! ```
//!
//! `serve` lays out DIR ([`layout`]): the fabric memory file, one vfio-user
//! socket per node, a control socket, and per node the QEMU arguments its
//! VM adds. It prints `rsio-fabric: ready` on stdout once every socket
//! listens, logs to stderr, and runs until SIGINT, SIGTERM or the control
//! command `shutdown`; then it removes what it created and exits 0.
//!
//! `ctl` sends one control command (`rsio_emu::control`) and prints the
//! JSON reply on stdout.
//!
//! Exit codes: 0 success, 1 the fabric refused or failed, 2 usage error.

mod cli;
mod control_server;
mod ctl;
mod layout;
mod logger;
mod node_device;
mod qemu_args;
mod serve;
mod signals;

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// Why a command failed, and so how the program exits.
#[derive(Debug)]
pub enum Failure {
    /// The arguments or the request are wrong: exit code 2.
    Usage(String),
    /// The fabric refused or something failed: exit code 1.
    Failed(String),
}

impl Failure {
    fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Usage(_) => ExitCode::from(2),
            Failure::Failed(_) => ExitCode::from(1),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(message) | Failure::Failed(message) => f.write_str(message),
        }
    }
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logger::init();
    let result = match &cli.command {
        cli::Command::Serve(args) => serve::run(args),
        cli::Command::Ctl(args) => ctl::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let _ = writeln!(std::io::stderr(), "rsio-fabric: {failure}");
            failure.exit_code()
        }
    }
}
