//! The command line, and the fabric configuration it describes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use rsio_emu::adapter::regs::MAX_NODES;
use rsio_emu::control::COMMANDS;
use rsio_emu::fabric::FabricConfig;

#[derive(Debug, Parser)]
#[command(
    name = "rsio-fabric",
    version,
    about = "Serves an emulated RSIO-NTB1 fabric to QEMU VMs over vfio-user"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a fabric: one vfio-user socket per node, a control socket, and
    /// each node's QEMU arguments, all in DIR.
    Serve(ServeArgs),
    /// Send one command to a running fabric and print its JSON reply.
    #[command(after_help = format!("Commands: {COMMANDS}"))]
    Ctl(CtlArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The directory for the sockets, the memory file and the QEMU
    /// arguments (created if needed).
    #[arg(long)]
    pub dir: PathBuf,
    /// Nodes in the fabric (2..=16).
    #[arg(long)]
    pub nodes: usize,
    /// Each node's guest RAM, in MiB (QEMU's -m must match).
    #[arg(long, default_value_t = 384)]
    pub ram_mib: u64,
    /// Slots of the translated window (BAR2).
    #[arg(long, default_value_t = 64)]
    pub lut_slots: u32,
    /// log2 of a translated-window slot's size.
    #[arg(long, default_value_t = 21)]
    pub slot_shift: u32,
    /// Inbound windows per adapter.
    #[arg(long, default_value_t = 32)]
    pub in_windows: u32,
    /// DMA channels per adapter.
    #[arg(long, default_value_t = 2)]
    pub dma_channels: u32,
    /// Largest vfio-user DMA_READ sent to a QEMU (bytes; longer reads are
    /// split). The default works around QEMU not delivering larger replies.
    #[arg(long, default_value_t = 64 << 10)]
    pub dma_read_max: usize,
    /// A multicast group: its member nodes, e.g. 0,1,3. Repeat the flag
    /// for each group.
    #[arg(long = "multicast", value_name = "NODES", value_parser = parse_members)]
    pub multicast: Vec<u16>,
    /// Leave out the direct window (BAR4).
    #[arg(long)]
    pub no_direct: bool,
    /// Leave out the direct window's memory alias (`DIRECT_ALIAS`, an
    /// ivshmem-plain function in each VM): device DMA into the window then
    /// goes through QEMU's bounce buffers (docs/emulator.md).
    #[arg(long)]
    pub no_direct_alias: bool,
    /// Node N is an expansion chassis (docs/adapter.md section 12): its
    /// QEMU runs the generated firmware DIR/node<N>.bios instead of an OS.
    /// Repeat the flag for each chassis.
    #[arg(long = "chassis", value_name = "N")]
    pub chassis: Vec<usize>,
}

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The directory a fabric is served in (`serve --dir`).
    #[arg(long)]
    pub dir: PathBuf,
    /// The command and its arguments, e.g. `status`, `link-down 1`,
    /// `latency 1 500`, `drop-doorbells 0 on`.
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Reads a multicast group's member list ("0,1,3") as a node bitmap.
fn parse_members(list: &str) -> Result<u16, String> {
    let mut members = 0u16;
    for word in list.split(',').map(str::trim) {
        let node: usize = word
            .parse()
            .ok()
            .filter(|&n| n < MAX_NODES)
            .ok_or_else(|| {
                format!("`{word}` is not a node id (0..{MAX_NODES}); give a list such as 0,1,3")
            })?;
        if members & (1 << node) != 0 {
            return Err(format!("node {node} is listed twice"));
        }
        members |= 1 << node;
    }
    Ok(members)
}

impl ServeArgs {
    /// The fabric the arguments describe, validated.
    pub fn fabric_config(&self) -> Result<FabricConfig, String> {
        let ram_bytes = self
            .ram_mib
            .checked_mul(1 << 20)
            .ok_or_else(|| format!("--ram-mib {} is too large", self.ram_mib))?;
        for &members in &self.multicast {
            if let Some(node) = (self.nodes..MAX_NODES).find(|&n| members & (1 << n) != 0) {
                return Err(format!(
                    "--multicast: node {node} is not in the {}-node fabric",
                    self.nodes
                ));
            }
        }
        let mut chassis = 0u16;
        for &node in &self.chassis {
            if node >= self.nodes {
                return Err(format!(
                    "--chassis: node {node} is not in the {}-node fabric",
                    self.nodes
                ));
            }
            chassis |= 1 << node;
        }
        let config = FabricConfig {
            nodes: self.nodes,
            ram_bytes,
            lut_slots: self.lut_slots,
            slot_shift: self.slot_shift,
            in_windows: self.in_windows,
            dma_channels: self.dma_channels,
            multicast: self.multicast.clone(),
            direct: !self.no_direct,
            direct_alias: !self.no_direct && !self.no_direct_alias,
            chassis,
        };
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("rsio-fabric").chain(args.split_whitespace()))
    }

    fn serve(args: &str) -> ServeArgs {
        match parse(&format!("serve --dir /d {args}")).unwrap().command {
            Command::Serve(serve) => serve,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_defaults_are_the_default_fabric() {
        let args = serve("--nodes 2");
        assert_eq!(args.dir, PathBuf::from("/d"));
        assert_eq!(args.fabric_config(), Ok(FabricConfig::default()));
    }

    #[test]
    fn every_option_reaches_the_configuration() {
        let args = serve(
            "--nodes 4 --ram-mib 256 --lut-slots 16 --slot-shift 20 --in-windows 8 \
             --dma-channels 4 --multicast 0,1 --multicast 1,2,3 --no-direct",
        );
        let expected = FabricConfig {
            nodes: 4,
            ram_bytes: 256 << 20,
            lut_slots: 16,
            slot_shift: 20,
            in_windows: 8,
            dma_channels: 4,
            multicast: vec![0b0011, 0b1110],
            direct: false,
            direct_alias: false,
            chassis: 0,
        };
        assert_eq!(args.fabric_config(), Ok(expected));
    }

    #[test]
    fn chassis_nodes_are_a_bitmap_of_the_fabric() {
        assert_eq!(
            serve("--nodes 4 --chassis 1 --chassis 3")
                .fabric_config()
                .unwrap()
                .chassis,
            0b1010
        );
        let error = |args: &str| serve(args).fabric_config().unwrap_err();
        assert_eq!(
            error("--nodes 2 --chassis 2"),
            "--chassis: node 2 is not in the 2-node fabric"
        );
        assert!(error("--nodes 2 --chassis 0 --chassis 1").contains("at least one node"));
        assert!(error("--nodes 2 --chassis 0 --no-direct-alias").contains("alias"));
    }

    #[test]
    fn the_direct_window_alias_is_on_unless_left_out() {
        assert!(serve("--nodes 2").fabric_config().unwrap().direct_alias);
        assert!(
            !serve("--nodes 2 --no-direct-alias")
                .fabric_config()
                .unwrap()
                .direct_alias
        );
    }

    #[test]
    fn multicast_members_are_node_lists() {
        assert_eq!(parse_members("0"), Ok(0b1));
        assert_eq!(parse_members("3, 1,0"), Ok(0b1011));
        assert_eq!(parse_members("15"), Ok(1 << 15));
        for bad in ["", "0,", "a", "1;2", "16", "-1", "0,0"] {
            assert!(parse_members(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_members("1,2,1"), Err("node 1 is listed twice".into()));
    }

    #[test]
    fn configurations_the_adapter_cannot_have_are_refused() {
        let error = |args: &str| serve(args).fabric_config().unwrap_err();
        assert!(error("--nodes 1").contains("nodes must be 2..=16"));
        assert!(error("--nodes 17").contains("nodes must be 2..=16"));
        assert!(error("--nodes 2 --ram-mib 8").contains("ram must be"));
        assert!(error("--nodes 2 --ram-mib 18446744073709551615").contains("too large"));
        assert!(error("--nodes 2 --lut-slots 0").contains("lut_slots"));
        assert!(error("--nodes 2 --dma-channels 5").contains("dma_channels"));
        assert_eq!(
            error("--nodes 2 --multicast 0,5"),
            "--multicast: node 5 is not in the 2-node fabric"
        );
    }

    #[test]
    fn malformed_command_lines_are_usage_errors() {
        for args in [
            "",
            "serve --nodes 2",
            "serve --dir /d",
            "serve --dir /d --nodes two",
            "serve --dir /d --nodes 2 --multicast x",
            "serve --dir /d --nodes 2 --bogus",
            "ctl --dir /d",
            "ctl status",
            "frobnicate",
        ] {
            let error = parse(args).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args}: {error}");
        }
    }

    #[test]
    fn ctl_takes_the_command_words_verbatim() {
        let Command::Ctl(ctl) = parse("ctl --dir /d latency 1 -5").unwrap().command else {
            panic!("not ctl");
        };
        assert_eq!(ctl.dir, PathBuf::from("/d"));
        assert_eq!(ctl.command, ["latency", "1", "-5"]);
    }
}
