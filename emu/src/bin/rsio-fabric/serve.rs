//! `rsio-fabric serve`: sets a fabric up in a directory, serves it until
//! told to stop, and leaves the directory as it found it.
//!
//! Start-up order: block the stop signals (before any thread exists),
//! build the fabric and its memory file, start one vfio-user server per
//! node, write each node's QEMU arguments, open the control socket, and
//! only then print the ready line: whoever waits for it may start VMs and
//! send control commands at once.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;

use rsio_emu::adapter::Adapter;
use rsio_emu::fabric::Fabric;
use rsio_emu::vfio_user::{Listening, Server, ServerConfig};

use crate::cli::ServeArgs;
use crate::control_server::ControlServer;
use crate::layout::Layout;
use crate::node_device::NodeDevice;
use crate::qemu_args::NodeArgs;
use crate::signals;
use crate::Failure;

/// The line that tells the world the fabric is up.
pub const READY: &str = "rsio-fabric: ready";

/// Why the server stops.
#[derive(Debug)]
enum Stop {
    Signal(&'static str),
    Shutdown,
}

/// Serves the fabric `args` describe until a stop signal or `shutdown`.
pub fn run(args: &ServeArgs) -> Result<(), Failure> {
    let config = args.fabric_config().map_err(Failure::Usage)?;
    let (stop, stopped) = mpsc::channel();
    let on_signal = stop.clone();
    signals::watch(move |signal| {
        let _ = on_signal.send(Stop::Signal(signal));
    })
    .map_err(|e| Failure::Failed(format!("cannot watch for signals: {e}")))?;

    let layout = Layout::create(&args.dir, config.nodes).map_err(Failure::Failed)?;
    refuse_if_served(&layout)?;
    let memory = layout.memory();
    let fabric = Fabric::new(config, &memory).map_err(Failure::Failed)?;
    let server_config = ServerConfig {
        dma_read_max: args.dma_read_max,
        ..ServerConfig::default()
    };
    let service = Service::start(&layout, fabric, server_config, move || {
        let _ = stop.send(Stop::Shutdown);
    })
    .map_err(Failure::Failed)?;
    announce_ready();

    let why = stopped.recv().unwrap_or(Stop::Shutdown);
    match why {
        Stop::Signal(signal) => log::info!("{signal}: stopping"),
        Stop::Shutdown => log::info!("shutdown requested: stopping"),
    }
    drop(service);
    log::info!("stopped; {} cleaned up", layout.dir().display());
    Ok(())
}

/// Fails if another server answers on the directory's control socket: two
/// servers in one directory would steal each other's sockets.
fn refuse_if_served(layout: &Layout) -> Result<(), Failure> {
    match UnixStream::connect(layout.control_socket()) {
        Ok(_) => Err(Failure::Failed(format!(
            "{} is already served by another rsio-fabric (its control socket answers)",
            layout.dir().display()
        ))),
        Err(_) => Ok(()),
    }
}

/// Prints the ready line on stdout, at once.
fn announce_ready() {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{READY}").and_then(|()| stdout.flush()) {
        log::warn!("cannot print the ready line: {e}");
    }
}

/// A running fabric. Dropping it stops it and removes its files; the
/// fields drop in order: first no more control commands, then every VM
/// disconnected, then the files.
struct Service {
    _control: ControlServer,
    _nodes: Vec<Listening>,
    _qemu_args: Vec<RemoveOnDrop>,
    _bios: Vec<RemoveOnDrop>,
    _fabric: Arc<Fabric>,
    /// The fabric removes its memory file when its last user goes; a
    /// connection thread still winding down may be one, so remove it here
    /// too (the VMs are gone, and the mapping outlives the name).
    _memory: RemoveOnDrop,
}

impl Service {
    fn start(
        layout: &Layout,
        fabric: Arc<Fabric>,
        server_config: ServerConfig,
        on_shutdown: impl Fn() + Send + Sync + 'static,
    ) -> Result<Service, String> {
        let memory = RemoveOnDrop(fabric.memory().path().to_path_buf());
        let nodes = fabric.config().nodes;
        let ram_mib = fabric.config().ram_bytes >> 20;
        let mut listening = Vec::with_capacity(nodes);
        let mut qemu_args = Vec::with_capacity(nodes);
        let mut bios_files = Vec::new();
        for node in 0..nodes {
            let adapter = Adapter::new(fabric.clone(), node)?;
            let socket = layout.node_socket(node);
            let server = Server::with_config(NodeDevice::new(node, adapter), server_config.clone());
            listening.push(
                server
                    .listen(&socket)
                    .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?,
            );

            let args_file = RemoveOnDrop(layout.qemu_args(node));
            let bios = if fabric.config().is_chassis(node) {
                let file = RemoveOnDrop(layout.bios(node));
                std::fs::write(&file.0, rsio_emu::chassis::firmware())
                    .map_err(|e| format!("cannot write {}: {e}", file.0.display()))?;
                let path = utf8(&file.0)?;
                bios_files.push(file);
                Some(path)
            } else {
                None
            };
            let args = NodeArgs {
                memory: &utf8(&memory.0)?,
                offset: fabric.memory().node_offset(node),
                ram_mib,
                socket: &utf8(&socket)?,
                direct_bytes: if fabric.config().direct_alias {
                    fabric.memory().file_len()
                } else {
                    0
                },
                bios: bios.as_deref(),
            };
            args.write(&args_file.0)?;
            qemu_args.push(args_file);
        }
        let control_path = layout.control_socket();
        let control = ControlServer::listen(&control_path, fabric.clone(), on_shutdown)
            .map_err(|e| format!("cannot listen on {}: {e}", control_path.display()))?;
        log::info!(
            "serving {nodes} nodes of {ram_mib} MiB in {}; control: {}",
            layout.dir().display(),
            control_path.display()
        );
        let chassis = fabric.config().chassis;
        if chassis != 0 {
            log::info!("expansion chassis: node bitmap {chassis:#x}");
        }
        Ok(Service {
            _control: control,
            _nodes: listening,
            _qemu_args: qemu_args,
            _bios: bios_files,
            _fabric: fabric,
            _memory: memory,
        })
    }
}

fn utf8(path: &std::path::Path) -> Result<String, String> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))
}

/// A file removed when this goes out of scope.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.0) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::warn!("cannot remove {}: {e}", self.0.display()),
        }
    }
}
