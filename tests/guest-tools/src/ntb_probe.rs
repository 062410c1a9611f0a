//! `rsio-ntb-probe`: drives the RSIO-NTB1 adapter (docs/adapter.md) from
//! guest user space, before any kernel driver exists: it binds the adapter
//! to vfio-pci in no-IOMMU mode, maps its BARs, routes its MSI-X vectors to
//! eventfds and enables bus mastering, then rings doorbells, opens windows,
//! programs the LUT, runs the DMA engine and measures it all.
//!
//! ```text
//! rsio-ntb-probe start                      # a daemon holds the adapter from now on
//! rsio-ntb-probe link-up                    # enable the link, wait for every peer
//! rsio-ntb-probe alloc rx 64K               # a locked, contiguous buffer
//! rsio-ntb-probe expose 0 rx 0              # inbound window 0 onto it, for node 0
//! rsio-ntb-probe lut 0 memory 1 0           # (on node 0) slot 0 -> node 1's window 0
//! rsio-ntb-probe write slot:0 0xa5 4K       # (on node 0) a pattern through BAR2
//! rsio-ntb-probe ring 1 0x1                 # (on node 0) and tell node 1
//! rsio-ntb-probe wait-doorbell 0 0x1        # (on node 1) the MSI-X vector fires
//! rsio-ntb-probe check rx 0xa5 4K           # (on node 1) the pattern landed
//! rsio-ntb-probe bench --peer 1             # latency and bandwidth vs memcpy
//! rsio-ntb-probe memcpy-bench --size 1M     # this node's memcpy alone (no adapter)
//! ```
//!
//! Exit codes: 0 success, 1 the command failed, 2 usage error.

#[path = "ntb_probe/adapter.rs"]
mod adapter;
#[path = "ntb_probe/bench.rs"]
mod bench;
#[path = "ntb_probe/cli.rs"]
mod cli;
#[path = "ntb_probe/commands.rs"]
mod commands;
#[path = "ntb_probe/daemon.rs"]
mod daemon;
#[path = "ntb_probe/dma.rs"]
mod dma;
#[path = "ntb_probe/dmamem.rs"]
mod dmamem;
#[path = "ntb_probe/irq.rs"]
mod irq;
#[path = "ntb_probe/mmio.rs"]
mod mmio;
#[path = "ntb_probe/parse.rs"]
mod parse;
#[path = "ntb_probe/pattern.rs"]
mod pattern;
#[path = "ntb_probe/pci.rs"]
mod pci;
#[path = "ntb_probe/place.rs"]
mod place;
#[path = "ntb_probe/regs.rs"]
mod regs;
#[path = "ntb_probe/session.rs"]
mod session;
#[path = "ntb_probe/vfio.rs"]
mod vfio;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use session::Session;

fn main() -> ExitCode {
    // What the daemon gets; clap below refuses what is not UTF-8 anyway.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Start => daemon::start(cli.device.as_deref()).map(|()| 0),
        // Nothing of the adapter's: not even the daemon is asked.
        command if !command.needs_adapter() => {
            commands::run_local(command, &mut std::io::stdout().lock()).map(|()| 0)
        }
        command => match daemon::forward(&args) {
            Some(result) => result,
            None => in_process(cli.device.as_deref(), command),
        },
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("rsio-ntb-probe: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command in a session of its own (no daemon is running).
fn in_process(device: Option<&str>, command: &Command) -> anyhow::Result<u8> {
    match command {
        Command::Stop => {
            println!("no daemon running");
            return Ok(0);
        }
        command if command.needs_daemon() => anyhow::bail!(
            "this command sets up state that must outlive it: start the daemon first \
             (rsio-ntb-probe start)"
        ),
        _ => {}
    }
    let mut session = Session::open(device)?;
    commands::run(&mut session, command, &mut std::io::stdout().lock())?;
    Ok(0)
}
