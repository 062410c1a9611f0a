//! `rsio`: the command-line tool of the rsio suite.
//!
//! Exit codes: 0 success, 1 the operation failed, 2 usage errors.

mod cmd_debug;
mod cmd_fabric;
mod cmd_info;
mod cmd_lend;
mod cmd_nodes;
mod cmd_nvme;
mod cmd_ping;
mod cmd_segments;
mod cmd_sisci;
mod cmd_windows;
mod device;
mod format;
mod signal;

use anyhow::Result;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};
use rsio_uapi as uapi;
use std::fmt;

const LONG_ABOUT: &str = "\
Share PCIe devices across an NTB cluster.

rsio talks to the rsio kernel modules through their character device
(/dev/rsio, created by rsio_fabric). The information commands (version,
status, nodes, windows, ping) need only access to the device; the test and
debug commands (grant, poke, peek) also need CAP_SYS_ADMIN.";

const AFTER_LONG_HELP: &str = "\
EXIT STATUS:
    0   success
    1   the operation failed (the message says why)
    2   usage error (bad option or value)

Every command takes --json for machine-readable output and --device to use
another device node. `rsio help COMMAND` explains a command.";

#[derive(Parser)]
#[command(
    name = "rsio",
    version,
    about = "Share PCIe devices across an NTB cluster",
    long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP
)]
struct Cli {
    /// The rsio character device.
    #[arg(long, global = true, default_value = uapi::RSIO_DEVICE_PATH)]
    device: String,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the loaded modules' ABI version, release and features.
    #[command(long_about = cmd_info::VERSION_LONG, after_long_help = cmd_info::VERSION_AFTER)]
    Version,
    /// Show this node's view of the fabric.
    #[command(long_about = cmd_info::STATUS_LONG, after_long_help = cmd_info::STATUS_AFTER)]
    Status,
    /// List the fabric's nodes and their state.
    #[command(long_about = cmd_nodes::LONG, after_long_help = cmd_nodes::AFTER)]
    Nodes,
    /// List the fabric core's mappings and grants.
    #[command(long_about = cmd_windows::LONG, after_long_help = cmd_windows::AFTER)]
    Windows,
    /// Measure message round trips with a peer's fabric core.
    #[command(long_about = cmd_ping::LONG, after_long_help = cmd_ping::AFTER)]
    Ping(cmd_ping::PingArgs),
    /// List this node's SISCI segments and connections (rsio_sisci).
    #[command(long_about = cmd_segments::LONG, after_long_help = cmd_segments::AFTER)]
    Segments,
    /// SISCI tools: `rsio sisci bench` (rsio_sisci).
    #[command(subcommand, long_about = cmd_sisci::LONG, after_long_help = cmd_sisci::BENCH_AFTER)]
    Sisci(cmd_sisci::SisciCmd),
    /// Lend a local PCI function to the fabric (rsio_lend, root).
    #[command(long_about = cmd_lend::LEND_LONG, after_long_help = cmd_lend::LEND_AFTER)]
    Lend(cmd_lend::BdfArgs),
    /// Give a lent PCI function back to its native driver (rsio_lend, root).
    #[command(long_about = cmd_lend::UNLEND_LONG, after_long_help = cmd_lend::UNLEND_AFTER)]
    Unlend(cmd_lend::UnlendArgs),
    /// List the PCI functions this node and its peers lend (rsio_lend).
    #[command(long_about = cmd_lend::DEVICES_LONG, after_long_help = cmd_lend::DEVICES_AFTER)]
    Devices,
    /// Borrow a peer's lent PCI function: it appears on this node's PCI bus (rsio_lend, root).
    #[command(long_about = cmd_lend::BORROW_LONG, after_long_help = cmd_lend::BORROW_AFTER)]
    Borrow(cmd_lend::BorrowArgs),
    /// Return a borrowed PCI function to its lender (rsio_lend, root).
    #[command(long_about = cmd_lend::RETURN_LONG, after_long_help = cmd_lend::RETURN_AFTER)]
    Return(cmd_lend::ReturnArgs),
    /// Let one borrowed PCI function DMA into a BAR of another (rsio_lend, root).
    #[command(long_about = cmd_lend::P2P_LONG, after_long_help = cmd_lend::P2P_AFTER)]
    P2p(cmd_lend::P2pArgs),
    /// Expansion chassis: `rsio fabric scan` lists their functions (rsio_lend, root).
    #[command(subcommand, long_about = cmd_fabric::FABRIC_LONG, after_long_help = cmd_fabric::FABRIC_AFTER)]
    Fabric(cmd_fabric::FabricCmd),
    /// Attach a chassis function to this node: it appears on its PCI bus (rsio_lend, root).
    #[command(long_about = cmd_fabric::ATTACH_LONG, after_long_help = cmd_fabric::ATTACH_AFTER)]
    Attach(cmd_fabric::AttachArgs),
    /// Detach a chassis function from this node; its slot is free again (rsio_lend, root).
    #[command(long_about = cmd_fabric::DETACH_LONG, after_long_help = cmd_fabric::DETACH_AFTER)]
    Detach(cmd_fabric::DetachArgs),
    /// Share NVMe controllers between nodes: share, unshare, list, attach, detach (rsio_nvme_share).
    #[command(subcommand, long_about = cmd_nvme::LONG, after_long_help = cmd_nvme::AFTER)]
    Nvme(cmd_nvme::NvmeCmd),
    /// Grant local memory to peers and hold it (test/debug, root).
    #[command(long_about = cmd_debug::GRANT_LONG, after_long_help = cmd_debug::GRANT_AFTER)]
    Grant(cmd_debug::GrantArgs),
    /// Write a word of a peer's granted memory and read it back (test/debug, root).
    #[command(long_about = cmd_debug::POKE_LONG, after_long_help = cmd_debug::POKE_AFTER)]
    Poke(cmd_debug::PokeArgs),
    /// Read a word of a peer's granted memory (test/debug, root).
    #[command(long_about = cmd_debug::PEEK_LONG, after_long_help = cmd_debug::PEEK_AFTER)]
    Peek(cmd_debug::PeekArgs),
}

/// What every command gets: the global options.
pub struct Ctx {
    /// The device path (`--device`).
    pub device: String,
    /// Print JSON (`--json`).
    pub json: bool,
}

impl Ctx {
    /// Opens the device.
    pub fn open(&self) -> Result<device::Device> {
        device::Device::open(&self.device)
    }
}

/// A usage error found after parsing (exit status 2, like clap's own).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Ends the program with this status; the command already said why.
#[derive(Debug)]
pub struct Exit(pub i32);

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}

fn main() {
    let cli = Cli::parse();
    let ctx = Ctx {
        device: cli.device.clone(),
        json: cli.json,
    };
    let Err(e) = run(&ctx, &cli.command) else {
        return;
    };
    if let Some(Exit(code)) = e.downcast_ref::<Exit>() {
        std::process::exit(*code);
    }
    if let Some(UsageError(msg)) = e.downcast_ref::<UsageError>() {
        usage_error(cli.command.name(), cli.command.nested_name(), msg);
    }
    eprintln!("rsio: {e:#}");
    std::process::exit(1);
}

/// Exits with status 2 and clap's usage error format for `subcommand`
/// (and its own subcommand `nested`, if it has one).
fn usage_error(subcommand: &str, nested: Option<&str>, msg: &str) -> ! {
    let mut cli = Cli::command();
    cli.build();
    let Some(sub) = cli.find_subcommand_mut(subcommand) else {
        cli.error(ErrorKind::InvalidValue, msg).exit()
    };
    match nested {
        Some(n) if sub.find_subcommand(n).is_some() => {
            let sub = sub.find_subcommand_mut(n).expect("found above");
            sub.error(ErrorKind::InvalidValue, msg).exit()
        }
        _ => sub.error(ErrorKind::InvalidValue, msg).exit(),
    }
}

impl Command {
    /// The subcommand's name on the command line.
    fn name(&self) -> &'static str {
        match self {
            Command::Version => "version",
            Command::Status => "status",
            Command::Nodes => "nodes",
            Command::Windows => "windows",
            Command::Segments => "segments",
            Command::Sisci(_) => "sisci",
            Command::Ping(_) => "ping",
            Command::Lend(_) => "lend",
            Command::Unlend(_) => "unlend",
            Command::Devices => "devices",
            Command::Borrow(_) => "borrow",
            Command::Return(_) => "return",
            Command::P2p(_) => "p2p",
            Command::Fabric(_) => "fabric",
            Command::Attach(_) => "attach",
            Command::Detach(_) => "detach",
            Command::Nvme(_) => "nvme",
            Command::Grant(_) => "grant",
            Command::Poke(_) => "poke",
            Command::Peek(_) => "peek",
        }
    }
}

impl Command {
    /// The name of the subcommand's own subcommand, for those that have one.
    fn nested_name(&self) -> Option<&'static str> {
        match self {
            Command::Nvme(cmd) => Some(cmd.name()),
            Command::Fabric(cmd) => Some(cmd.name()),
            _ => None,
        }
    }
}

fn run(ctx: &Ctx, command: &Command) -> Result<()> {
    match command {
        Command::Version => cmd_info::version(ctx),
        Command::Status => cmd_info::status(ctx),
        Command::Nodes => cmd_nodes::run(ctx),
        Command::Windows => cmd_windows::run(ctx),
        Command::Segments => cmd_segments::run(ctx),
        Command::Sisci(cmd) => cmd_sisci::run(ctx, cmd),
        Command::Ping(args) => cmd_ping::run(ctx, args),
        Command::Lend(args) => cmd_lend::lend(ctx, args),
        Command::Unlend(args) => cmd_lend::unlend(ctx, args),
        Command::Devices => cmd_lend::devices(ctx),
        Command::Borrow(args) => cmd_lend::borrow(ctx, args),
        Command::Return(args) => cmd_lend::return_device(ctx, args),
        Command::P2p(args) => cmd_lend::p2p(ctx, args),
        Command::Fabric(cmd) => cmd_fabric::run(ctx, cmd),
        Command::Attach(args) => cmd_fabric::attach(ctx, args),
        Command::Detach(args) => cmd_fabric::detach(ctx, args),
        Command::Nvme(cmd) => cmd_nvme::run(ctx, cmd),
        Command::Grant(args) => cmd_debug::grant(ctx, args),
        Command::Poke(args) => cmd_debug::poke(ctx, args),
        Command::Peek(args) => cmd_debug::peek(ctx, args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("rsio").chain(args.iter().copied()))
    }

    #[test]
    fn bad_values_are_usage_errors_with_exit_status_2() {
        for args in [
            &["ping"][..],
            &["ping", "16"],
            &["ping", "1", "-c", "0"],
            &["ping", "1", "-s", "201"],
            &["ping", "1", "--timeout", "60001"],
            &["grant", "--size", "4K"],
            &["grant", "--peers", "1", "--size", "4X"],
            &["grant", "--peers", "1", "--size", "4K", "--fill", "256"],
            &[
                "grant",
                "--peers",
                "1",
                "--size",
                "4K",
                "--expect-u32",
                "16",
            ],
            &["poke", "1", "0x1000"],
            &["peek", "1", "nowhere"],
            &["lend"],
            &["lend", "00:20.0"],
            &["unlend", "nowhere"],
            &["borrow"],
            &["return", "0x1"],
            &["return", "0:0"],
            &["borrow", "0:1", "--class", "01"],
            &["fabric"],
            &["fabric", "list"],
            &["fabric", "scan", "extra"],
            &["attach"],
            &["attach", "0x20000"],
            &["attach", "2:0x20300"],
            &["attach", "0x100300"],
            &["attach", "0x20300", "--auto", "0108"],
            &["attach", "--auto", "010"],
            &["attach", "0x20300", "--watch", "5"],
            &["attach", "--auto", "0108", "--watch", "x"],
            &["detach"],
            &["detach", "nowhere"],
            &["detach", "0x20300", "--ro"],
            &["nvme"],
            &["nvme", "lend"],
            &["nvme", "share"],
            &["nvme", "share", "00:20.0"],
            &["nvme", "share", "00:04.0", "--ns", "1"],
            &["nvme", "share", "00:04.0", "--ns", "0=shared"],
            &["nvme", "share", "00:04.0", "--ns", "1=private"],
            &["nvme", "share", "00:04.0", "--ns", "1=assigned:16"],
            &["nvme", "share", "00:04.0", "--qpairs-per-client", "0"],
            &["nvme", "share", "00:04.0", "--qpairs-per-client", "17"],
            &["nvme", "unshare", "nowhere"],
            &["nvme", "list", "extra"],
            &["nvme", "attach"],
            &["nvme", "attach", "0x10001"],
            &["nvme", "attach", "2:0x10001"],
            &["nvme", "attach", "1:0"],
            &["nvme", "attach", "1:1", "--qpairs", "0"],
            &["nvme", "attach", "1:1", "--qpairs", "17"],
            &["nvme", "attach", "1:1", "--ns", "0"],
            &["nvme", "detach", "1"],
            &["nvme", "detach", "1:1", "--ro"],
        ] {
            let err = parse(args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} parsed"));
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn every_command_knows_its_name() {
        for sub in Cli::command().get_subcommands() {
            let name = sub.get_name();
            if name == "help" {
                continue;
            }
            let mut args = vec![name];
            args.extend(match name {
                "ping" => &["1"][..],
                "grant" => &["--peers", "1", "--size", "4K"],
                "poke" => &["1", "0x1000", "1"],
                "peek" => &["1", "0x1000"],
                "sisci" => &["bench", "1"],
                "lend" | "unlend" => &["00:04.0"],
                "borrow" | "return" => &["0:0x1"],
                "p2p" => &["0:0x1", "2:0x20001", "--bar", "2"],
                "nvme" => &["list"],
                "fabric" => &["scan"],
                "attach" | "detach" => &["0x20300"],
                _ => &[],
            });
            let cli = parse(&args).unwrap();
            assert_eq!(cli.command.name(), name);
        }
    }

    #[test]
    fn every_nvme_command_knows_its_name() {
        let nvme = Cli::command();
        let nvme = nvme.find_subcommand("nvme").expect("rsio nvme");
        for sub in nvme.get_subcommands() {
            let name = sub.get_name();
            if name == "help" {
                continue;
            }
            let mut args = vec!["nvme", name];
            args.extend(match name {
                "share" | "unshare" => &["00:04.0"][..],
                "attach" | "detach" => &["1:0x10001"],
                _ => &[],
            });
            let cli = parse(&args).unwrap();
            let Command::Nvme(cmd) = &cli.command else {
                panic!("not nvme");
            };
            assert_eq!(cmd.name(), name);
            assert_eq!(cli.command.name(), "nvme");
        }
    }

    #[test]
    fn nvme_options_are_parsed() {
        let cli = parse(&[
            "nvme",
            "share",
            "0000:00:04.0",
            "--ns",
            "1=shared,ro",
            "--ns",
            "2=assigned:0",
            "--qpairs-per-client",
            "2",
            "--force",
        ])
        .unwrap();
        let Command::Nvme(cmd_nvme::NvmeCmd::Share(a)) = cli.command else {
            panic!("not nvme share");
        };
        assert_eq!(a.bdf, (0, 0, 4 << 3));
        assert_eq!(a.ns.len(), 2);
        assert_eq!((a.ns[0].nsid, a.ns[0].flags), (1, 1));
        assert_eq!((a.ns[1].nsid, a.ns[1].kind, a.ns[1].node), (2, 1, 0));
        assert_eq!(a.qpairs_per_client, Some(2));
        assert!(a.force);
        let cli = parse(&[
            "nvme",
            "attach",
            "1:0x10001",
            "--qpairs",
            "2",
            "--ns",
            "1",
            "--ro",
            "--json",
        ])
        .unwrap();
        assert!(cli.json, "--json after the nvme command");
        let Command::Nvme(cmd_nvme::NvmeCmd::Attach(a)) = cli.command else {
            panic!("not nvme attach");
        };
        assert_eq!(a.target, (1, 0x10001));
        assert_eq!((a.qpairs, a.ns, a.ro), (Some(2), Some(1), true));
        let cli = parse(&["nvme", "detach", "1:65537", "--force"]).unwrap();
        let Command::Nvme(cmd_nvme::NvmeCmd::Detach(d)) = cli.command else {
            panic!("not nvme detach");
        };
        assert_eq!(d.target, (1, 0x10001));
        assert!(d.force);
        let cli = parse(&["nvme", "unshare", "00:04.0"]).unwrap();
        let Command::Nvme(cmd_nvme::NvmeCmd::Unshare(u)) = cli.command else {
            panic!("not nvme unshare");
        };
        assert!(!u.force);
    }

    #[test]
    fn chassis_options_are_parsed() {
        let cli = parse(&["attach", "0x20300", "--json"]).unwrap();
        assert!(cli.json);
        let Command::Attach(a) = cli.command else {
            panic!("not attach");
        };
        assert_eq!((a.fdid, a.auto, a.watch), (Some(0x20300), None, None));
        let cli = parse(&["attach", "--auto", "0108", "--watch", "30"]).unwrap();
        let Command::Attach(a) = cli.command else {
            panic!("not attach");
        };
        assert_eq!(a.fdid, None);
        assert_eq!(a.auto, Some((0x01_0800, 0xff_ff00)));
        assert_eq!(a.watch, Some(std::time::Duration::from_secs(30)));
        let cli = parse(&["detach", "131840", "--force"]).unwrap();
        let Command::Detach(d) = cli.command else {
            panic!("not detach");
        };
        assert_eq!((d.fdid, d.force), (0x20300, true));
        let cli = parse(&["fabric", "scan", "--json"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.command.nested_name(), Some("scan"));
    }

    #[test]
    fn global_options_go_before_or_after_the_command() {
        let cli = parse(&["--json", "nodes", "--device", "/dev/x"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.device, "/dev/x");
    }

    #[test]
    fn grant_options_are_parsed_with_suffixes_and_masks() {
        let cli = parse(&[
            "grant",
            "--peers",
            "0x6",
            "--size",
            "64K",
            "--fill",
            "0xa5",
            "--expect-u32",
            "0x10=0xcafe",
            "--hold",
            "2.5",
        ])
        .unwrap();
        let Command::Grant(g) = cli.command else {
            panic!("not grant");
        };
        assert_eq!(g.peers, 0b110);
        assert_eq!(g.size, 64 << 10);
        assert_eq!(g.fill, Some(0xa5));
        assert_eq!(g.expect_u32, Some((16, 0xcafe)));
        assert_eq!(g.hold, Some(std::time::Duration::from_millis(2500)));
    }

    #[test]
    fn every_command_has_examples_and_an_exit_status_in_its_help() {
        let mut cmd = Cli::command();
        for sub in cmd.get_subcommands_mut() {
            let name = sub.get_name().to_string();
            let help = sub.render_long_help().to_string();
            assert!(help.contains("EXAMPLES:"), "{name}: no examples");
            assert!(help.contains("EXIT STATUS:"), "{name}: no exit status");
            for nested in sub.get_subcommands_mut() {
                if nested.get_name() == "help" {
                    continue;
                }
                let nested_name = format!("{name} {}", nested.get_name());
                let help = nested.render_long_help().to_string();
                assert!(help.contains("EXAMPLES:"), "{nested_name}: no examples");
                assert!(
                    help.contains("EXIT STATUS:"),
                    "{nested_name}: no exit status"
                );
            }
        }
    }
}
