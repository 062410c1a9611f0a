//! The command line of `rsio-ntb-probe`.

use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use super::parse;
use super::place::Place;

#[derive(Debug, Parser)]
#[command(
    name = "rsio-ntb-probe",
    about = "Drives the RSIO-NTB1 adapter from user space through VFIO, before any kernel driver exists",
    long_about = "Drives the RSIO-NTB1 adapter (docs/adapter.md) from user space through \
                  vfio-pci in no-IOMMU mode, before any kernel driver exists.\n\n\
                  Each command opens the adapter, does its job and releases it, unless the \
                  daemon runs (`start`): then every command is executed by the daemon, which \
                  keeps the adapter, its buffers, windows and LUT slots across commands, as \
                  a driver would."
)]
pub struct Cli {
    /// The adapter's PCI address (default: the only RSIO-NTB1).
    #[arg(long, global = true, value_name = "BDF")]
    pub device: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// A link state to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LinkState {
    Up,
    Down,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the daemon that holds the adapter across commands.
    Start,
    /// Stop the daemon: the node leaves the fabric (link disabled) and
    /// everything the daemon set up is undone.
    Stop,
    /// Identity, geometry, BARs and link state.
    Info,
    /// Enable the link and wait until the links to the peers are up.
    LinkUp {
        /// The nodes to wait for, e.g. 0,2 (default: every node).
        #[arg(long, value_parser = parse::nodes)]
        peers: Option<u32>,
        #[arg(long, default_value = "30", value_parser = parse::seconds)]
        timeout: Duration,
    },
    /// Disable the link.
    LinkDown,
    /// Wait until the link to PEER is up or down.
    WaitLink {
        peer: usize,
        state: LinkState,
        #[arg(long, default_value = "10", value_parser = parse::seconds)]
        timeout: Duration,
    },
    /// Ring doorbell BITS on PEER.
    Ring {
        peer: usize,
        #[arg(value_parser = parse::u32_value)]
        bits: u32,
    },
    /// Wait for PEER's doorbell interrupt with BITS set, then clear them.
    WaitDoorbell {
        peer: usize,
        #[arg(value_parser = parse::u32_value)]
        bits: u32,
        #[arg(long, default_value = "10", value_parser = parse::seconds)]
        timeout: Duration,
    },
    /// Read scratchpad INDEX that PEER wrote here, or write VALUE to PEER's.
    Spad {
        peer: usize,
        index: usize,
        #[arg(value_parser = parse::u32_value)]
        value: Option<u32>,
    },
    /// Allocate a locked, physically contiguous buffer (daemon).
    Alloc {
        name: String,
        #[arg(value_parser = parse::size)]
        size: u64,
    },
    /// Open inbound WINDOW onto BUFFER for PEERS (e.g. 0,2) and advertise it to them (daemon).
    Expose {
        window: usize,
        buffer: String,
        #[arg(value_parser = parse::nodes)]
        peers: u32,
    },
    /// Open inbound WINDOW onto local bus range ADDR..ADDR+SIZE (device
    /// MMIO, e.g. a BAR) for PEERS: their accesses become remote MMIO (daemon).
    ExposeMmio {
        window: usize,
        #[arg(value_parser = parse::number)]
        addr: u64,
        #[arg(value_parser = parse::size)]
        size: u64,
        #[arg(value_parser = parse::nodes)]
        peers: u32,
    },
    /// Read COUNT 32-bit words at PLACE and print them (through a window:
    /// BAR2 slot or the direct window).
    Peek {
        place: Place,
        #[arg(default_value_t = 1)]
        count: usize,
    },
    /// Program LUT slot SLOT (daemon).
    Lut {
        slot: usize,
        #[command(subcommand)]
        target: LutTarget,
    },
    /// Receive multicast GROUP into BUFFER (daemon).
    McJoin { group: usize, buffer: String },
    /// Let PEERS (e.g. 0,2) raise remote interrupts here (daemon).
    Intwin {
        #[arg(value_parser = parse::nodes)]
        peers: u32,
    },
    /// Raise remote interrupt K (0..32) through the interrupt slot SLOT.
    Raise { slot: usize, k: usize },
    /// Wait for MSI-X vector VECTOR to fire.
    WaitVector {
        vector: usize,
        #[arg(long, default_value = "10", value_parser = parse::seconds)]
        timeout: Duration,
    },
    /// Write LEN bytes of pattern SEED to PLACE (NAME[+OFF], slot:S[+OFF], peer:P[+OFF]).
    Write {
        place: Place,
        #[arg(value_parser = parse::number)]
        seed: u64,
        #[arg(value_parser = parse::size)]
        len: u64,
    },
    /// Read LEN bytes at PLACE and check them against pattern SEED.
    Check {
        place: Place,
        #[arg(value_parser = parse::number)]
        seed: u64,
        #[arg(value_parser = parse::size)]
        len: u64,
    },
    /// Copy LEN bytes from SRC to DST (places, or bus:ADDR) with the DMA engine.
    Dma {
        src: Place,
        dst: Place,
        #[arg(value_parser = parse::size)]
        len: u64,
        #[arg(long, default_value = "0")]
        channel: usize,
        #[arg(long, default_value = "10", value_parser = parse::seconds)]
        timeout: Duration,
    },
    /// The adapter's counters.
    Counters,
    /// ERR_STATUS, ERR_ADDR and ERR_INFO.
    Errors {
        /// Clear ERR_STATUS after showing it.
        #[arg(long)]
        clear: bool,
    },
    /// Measure this node's own memcpy bandwidth between two ordinary
    /// buffers; needs no adapter (a baseline for NTB figures, e.g.
    /// ntb_perf's, taken in the same VM).
    MemcpyBench {
        /// Bytes per copy.
        #[arg(long, default_value = "1M", value_parser = parse::size)]
        size: u64,
        /// Roughly how long the measurement runs.
        #[arg(long, default_value = "0.5", value_parser = parse::seconds)]
        seconds: Duration,
    },
    /// Measure register latency, window and DMA bandwidth against memcpy.
    Bench {
        /// Use the window this peer exposed and advertised (default: a
        /// window of our own, through the loopback paths).
        #[arg(long)]
        peer: Option<usize>,
        /// The bulk transfer size.
        #[arg(long, default_value = "1M", value_parser = parse::size)]
        bytes: u64,
        /// Roughly how long each measurement runs.
        #[arg(long, default_value = "0.5", value_parser = parse::seconds)]
        seconds: Duration,
    },
}

/// What a LUT slot points at (section 4.3).
#[derive(Debug, Subcommand)]
pub enum LutTarget {
    /// Node NODE's inbound window WINDOW.
    Memory {
        node: usize,
        window: usize,
        #[arg(long, default_value = "0", value_parser = parse::size)]
        offset: u64,
    },
    /// Multicast group GROUP.
    Multicast {
        group: usize,
        #[arg(long, default_value = "0", value_parser = parse::size)]
        offset: u64,
    },
    /// Node NODE's interrupt window.
    Interrupt { node: usize },
    /// Invalidate the slot.
    Clear,
}

impl Command {
    /// Whether the command uses the adapter at all (else it runs on its
    /// own, even with the adapter bound to a kernel driver or held by the
    /// daemon).
    pub fn needs_adapter(&self) -> bool {
        !matches!(self, Command::MemcpyBench { .. })
    }

    /// Whether the command sets up state that must outlive it, so that it
    /// only makes sense in the daemon.
    pub fn needs_daemon(&self) -> bool {
        matches!(
            self,
            Command::Alloc { .. }
                | Command::Expose { .. }
                | Command::ExposeMmio { .. }
                | Command::Lut { .. }
                | Command::McJoin { .. }
                | Command::Intwin { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("rsio-ntb-probe").chain(args.iter().copied()))
    }

    #[test]
    fn a_two_node_exchange_reads_as_written() {
        let cli = parse(&["expose", "0", "rx", "0,2"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Expose { window: 0, ref buffer, peers: 0b101 } if buffer == "rx"
        ));
        let cli = parse(&["lut", "3", "memory", "1", "0", "--offset", "4K"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Lut {
                slot: 3,
                target: LutTarget::Memory {
                    node: 1,
                    window: 0,
                    offset: 4096
                }
            }
        ));
        let cli = parse(&["write", "slot:3", "0xa5", "64K"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Write {
                place: Place::Slot { slot: 3, offset: 0 },
                seed: 0xa5,
                len: 65536
            }
        ));
        let cli = parse(&[
            "--device",
            "0000:00:02.0",
            "wait-doorbell",
            "0",
            "0x1",
            "--timeout",
            "2.5",
        ])
        .unwrap();
        assert_eq!(cli.device.as_deref(), Some("0000:00:02.0"));
        assert!(matches!(
            cli.command,
            Command::WaitDoorbell { peer: 0, bits: 1, timeout } if timeout == Duration::from_millis(2500)
        ));
    }

    #[test]
    fn bad_arguments_are_refused_by_name() {
        let e = parse(&["ring", "1", "0x1_0000_0000"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("BITS") || e.contains("bits"), "{e}");
        assert!(parse(&["wait-link", "1", "sideways"]).is_err());
        assert!(parse(&["expose", "0", "rx", "0,99"]).is_err());
    }

    #[test]
    fn only_state_keeping_commands_need_the_daemon() {
        assert!(parse(&["alloc", "rx", "64K"])
            .unwrap()
            .command
            .needs_daemon());
        assert!(parse(&["lut", "0", "clear"])
            .unwrap()
            .command
            .needs_daemon());
        assert!(!parse(&["info"]).unwrap().command.needs_daemon());
        assert!(!parse(&["bench"]).unwrap().command.needs_daemon());
    }

    #[test]
    fn memcpy_bench_takes_a_size_and_needs_no_adapter() {
        let cli = parse(&["memcpy-bench", "--size", "4M", "--seconds", "0.25"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::MemcpyBench { size: 0x40_0000, seconds } if seconds == Duration::from_millis(250)
        ));
        assert!(!cli.command.needs_adapter());
        assert!(!cli.command.needs_daemon());
        assert!(parse(&["info"]).unwrap().command.needs_adapter());
    }
}
