//! `rsio`: the command-line tool of the rsio suite.
//!
//! Exit codes: 0 success, 1 the operation failed, 2 usage errors (clap).

mod device;

use anyhow::Result;
use clap::{Parser, Subcommand};
use rsio_uapi as uapi;

#[derive(Parser)]
#[command(
    name = "rsio",
    version,
    about = "Share PCIe devices across an NTB cluster"
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
    Version,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(&cli) {
        eprintln!("rsio: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: &Cli) -> Result<()> {
    match cli.command {
        Command::Version => version(cli),
    }
}

fn version(cli: &Cli) -> Result<()> {
    let dev = device::Device::open(&cli.device)?;
    let v = dev.version()?;
    let release = String::from_utf8_lossy(uapi::cstr_bytes(&v.release)).into_owned();
    let kernel = String::from_utf8_lossy(uapi::cstr_bytes(&v.kernel_release)).into_owned();
    let features = feature_names(v.features);
    if cli.json {
        let j = serde_json::json!({
            "abi": { "major": v.abi_major, "minor": v.abi_minor },
            "release": release,
            "kernel_release": kernel,
            "features": features,
            "tool": { "release": env!("CARGO_PKG_VERSION"),
                      "abi": { "major": uapi::RSIO_ABI_MAJOR, "minor": uapi::RSIO_ABI_MINOR } },
        });
        println!("{j}");
    } else {
        println!(
            "rsio modules {release} (ABI {}.{}) on kernel {kernel}",
            v.abi_major, v.abi_minor
        );
        println!(
            "rsio tool    {} (ABI {}.{})",
            env!("CARGO_PKG_VERSION"),
            uapi::RSIO_ABI_MAJOR,
            uapi::RSIO_ABI_MINOR
        );
        println!("features     {}", features.join(" "));
    }
    Ok(())
}

fn feature_names(bits: u64) -> Vec<String> {
    let known = [(uapi::RSIO_FEATURE_FABRIC, "fabric")];
    let mut names: Vec<String> = known
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    let unknown = bits & !known.iter().fold(0, |a, (b, _)| a | b);
    if unknown != 0 {
        names.push(format!("unknown:{unknown:#x}"));
    }
    names
}
