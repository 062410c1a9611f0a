//! QEMU for one node: its command line and its process.
//!
//! A node runs the scenario's kernel; an expansion chassis (a fabric node
//! that runs no OS) runs the fabric emulator's firmware and has its devices
//! behind PCIe root ports ([`chassis_argv`]).
//!
//! [`node_argv`] is a pure function of the scenario, the run directory and
//! the node's RAM, so the exact command line is unit-tested. [`Vm`] owns the
//! running process and kills it when dropped; like every child of the
//! runner it is [guarded](crate::process) (own process group, dies with the
//! runner).

use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::process;
use crate::scenario::{Device, DeviceKind, Scenario};

/// Where one node's files live in the run directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePaths {
    pub console: PathBuf,
    pub ctl: PathBuf,
    pub qmp: PathBuf,
    /// QEMU's own stdout and stderr.
    pub qemu_log: PathBuf,
}

impl NodePaths {
    pub fn new(run_dir: &Path, node: usize) -> NodePaths {
        NodePaths {
            console: run_dir.join(format!("node{node}.console.log")),
            ctl: run_dir.join(format!("node{node}.ctl")),
            qmp: run_dir.join(format!("node{node}.qmp")),
            qemu_log: run_dir.join(format!("node{node}.qemu.log")),
        }
    }
}

/// The backing image of NVMe device `k` on `node`.
pub fn nvme_image(run_dir: &Path, node: usize, k: usize) -> PathBuf {
    run_dir.join(format!("node{node}-nvme{k}.img"))
}

/// The backing image of namespace `j` (0-based: nsid `j + 1`) of NVMe
/// device `k` on `node`, when the device has `namespaces`.
pub fn nvme_ns_image(run_dir: &Path, node: usize, k: usize, j: u32) -> PathBuf {
    run_dir.join(format!("node{node}-nvme{k}-ns{j}.img"))
}

/// Every image of NVMe device `k` on `node`: one per namespace, or the
/// controller's one drive.
pub fn nvme_images(run_dir: &Path, node: usize, k: usize, namespaces: Option<u32>) -> Vec<PathBuf> {
    match namespaces {
        Some(n) => (0..n).map(|j| nvme_ns_image(run_dir, node, k, j)).collect(),
        None => vec![nvme_image(run_dir, node, k)],
    }
}

/// Node `node`'s disk image of `qemu` device `k`.
pub fn disk_image(run_dir: &Path, node: usize, k: usize) -> PathBuf {
    run_dir.join(format!("node{node}-disk{k}.img"))
}

/// The hub socket of e1000e segment `k`.
pub fn net_hub(run_dir: &Path, k: usize) -> PathBuf {
    run_dir.join(format!("net{k}.hub"))
}

/// Node `node`'s own socket on e1000e segment `k`.
pub fn net_socket(run_dir: &Path, node: usize, k: usize) -> PathBuf {
    run_dir.join(format!("node{node}-net{k}.sock"))
}

/// The MAC address of node `node` on e1000e segment `k`.
pub fn mac(node: usize, k: usize) -> String {
    format!("52:54:00:12:{k:02x}:{node:02x}")
}

/// The bounce-buffer budget of each PCI device of a node (see
/// [`node_argv`]): 128 KiB reads at depth 32.
const BOUNCE_BYTES: u64 = 4 << 20;

/// Everything that shapes a node's command line besides the scenario.
#[derive(Debug, Clone)]
pub struct Boot<'a> {
    pub kernel: &'a Path,
    /// The single, concatenated initramfs in the run directory.
    pub initrd: &'a Path,
    pub run_dir: &'a Path,
}

/// Where a node's RAM comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ram<'a> {
    /// A shared memfd of the node's own.
    Memfd,
    /// The fabric emulator's arguments for the node (`node<i>.qemu-args`):
    /// its RAM backend in the fabric memory, the machine that uses it and
    /// its adapter. They replace the node's own `-machine` and RAM backend.
    Fabric(&'a [String]),
}

/// The first PCI slot of a chassis's root ports (0x2 is the adapter).
const CHASSIS_FIRST_SLOT: usize = 0x4;

/// The id of root port `k` of an expansion chassis: its device's `bus`.
pub fn chassis_port(k: usize) -> String {
    format!("chs{k}")
}

/// Root port `k` of an expansion chassis: PCI slot 0x4 + k on the root
/// bus, its own (chassis, slot) pair, hot-plug capable.
fn root_port(k: usize) -> String {
    format!(
        "pcie-root-port,id={},chassis={},slot={k},addr={:#x}.0,bus=pcie.0",
        chassis_port(k),
        k + 1,
        CHASSIS_FIRST_SLOT + k
    )
}

/// The RAM backend and machine: the node's own memfd, or the fabric's.
fn ram_args(argv: &mut Argv, ram: Ram, mib: u32) {
    match ram {
        Ram::Memfd => argv.opt("-machine", "q35,memory-backend=ram").opt(
            "-object",
            format!("memory-backend-memfd,id=ram,size={mib}M,share=on"),
        ),
        Ram::Fabric(args) => argv.extend(args),
    };
}

/// The QEMU arguments (without the program) for node `node` of `scenario`
/// (for an expansion chassis, [`chassis_argv`]'s).
pub fn node_argv(scenario: &Scenario, boot: &Boot, node: usize, ram: Ram) -> Vec<String> {
    if scenario.is_chassis(node) {
        return chassis_argv(scenario, boot.run_dir, node, ram);
    }
    let run_dir = boot.run_dir;
    let paths = NodePaths::new(run_dir, node);
    let mib = scenario.memory_mib;
    // no_timer_check: under TCG on a loaded host the kernel's IO-APIC
    // timer check can miss its ticks and panic ("IO-APIC + timer doesn't
    // work!"); the check is for broken chipsets, not this one.
    // no5lvl: QEMU's TCG CPU has LA57, and the debug kernel (5-level page
    // tables, KASAN) can take an early timer interrupt whose irq_desc, in
    // the 5-level direct map, KASAN reports as a wild access (a boot flake
    // before any rsio code runs); the guests need no 5-level paging.
    let mut append = format!(
        "console=ttyS0 panic=-1 no_timer_check no5lvl rsio.node={node} rsio.nodes={}",
        scenario.nodes
    );
    if !scenario.cmdline.is_empty() {
        append.push(' ');
        append.push_str(&scenario.cmdline);
    }

    let mut argv = Argv::default();
    ram_args(&mut argv, ram, mib);
    // Before the node's own devices (QEMU gives a device the IOMMU's address
    // space only if the IOMMU exists when the device is realized): they are
    // remapped; the adapter, from the fabric's arguments above, is not (the
    // guest gives it an identity domain, which is the same). caching-mode:
    // the guest flushes on map too, as QEMU's vfio devices need.
    if scenario.iommu.contains(&node) {
        argv.opt("-device", "intel-iommu,intremap=off,caching-mode=on");
    }
    // QEMU maps a vfio-user region as a "RAM device": not memory a device
    // may DMA into directly. Device DMA into the direct window goes to its
    // memory alias (the emulator's arguments add it), but what still targets
    // a vfio-user region (peer-to-peer into another lent device's BAR, or a
    // fabric without the alias) moves through bounce buffers, capped at 4 KiB
    // per device by default: one 4 KiB transfer at a time, whatever the
    // queue depth. A PCIe fabric has no such cap; this lifts it to what a
    // lent NVMe drive keeps in flight.
    argv.opt(
        "-global",
        format!("pci-device.x-max-bounce-buffer-size={BOUNCE_BYTES}"),
    );
    argv.opt("-accel", "tcg")
        .opt("-cpu", "max")
        .opt("-smp", "1")
        .opt("-m", format!("{mib}M"))
        .flag("-nodefaults")
        .opt("-display", "none")
        .flag("-no-reboot")
        .opt("-kernel", boot.kernel.display().to_string())
        .opt("-initrd", boot.initrd.display().to_string())
        .opt("-append", append)
        .opt(
            "-chardev",
            format!("file,id=con,path={}", opt_path(&paths.console)),
        )
        .opt("-serial", "chardev:con")
        .opt("-device", "virtio-serial-pci,id=vser")
        .opt(
            "-chardev",
            format!(
                "socket,id=ctl,path={},server=on,wait=off",
                opt_path(&paths.ctl)
            ),
        )
        .opt(
            "-device",
            "virtserialport,bus=vser.0,chardev=ctl,name=rsio.ctl",
        )
        .opt(
            "-qmp",
            format!("unix:{},server=on,wait=off", opt_path(&paths.qmp)),
        );

    for device in scenario.devices.iter().filter(|d| d.nodes.contains(&node)) {
        device_args(&mut argv, device, run_dir, node, None);
    }
    extra_args(&mut argv, scenario, run_dir, node);
    argv.0
}

/// The QEMU arguments of expansion chassis `node`: the fabric's arguments
/// (RAM, machine, adapter, and the firmware: `-bios`), no kernel, no
/// control port, the serial console to its log; its QMP socket; then root
/// port `k` (`chs<k>`) for each slot, followed by the `k`-th of its devices
/// on that port, if any.
pub fn chassis_argv(scenario: &Scenario, run_dir: &Path, node: usize, ram: Ram) -> Vec<String> {
    let paths = NodePaths::new(run_dir, node);
    let mib = scenario.memory_mib;
    let mut argv = Argv::default();
    ram_args(&mut argv, ram, mib);
    argv.opt(
        "-global",
        format!("pci-device.x-max-bounce-buffer-size={BOUNCE_BYTES}"),
    )
    .opt("-accel", "tcg")
    .opt("-cpu", "max")
    .opt("-smp", "1")
    .opt("-m", format!("{mib}M"))
    .flag("-nodefaults")
    .opt("-display", "none")
    .flag("-no-reboot")
    .opt(
        "-chardev",
        format!("file,id=con,path={}", opt_path(&paths.console)),
    )
    .opt("-serial", "chardev:con")
    .opt(
        "-qmp",
        format!("unix:{},server=on,wait=off", opt_path(&paths.qmp)),
    );
    let devices = scenario.chassis_devices(node);
    for k in 0..scenario.chassis_slots(node) {
        argv.opt("-device", root_port(k));
        if let Some(device) = devices.get(k) {
            device_args(&mut argv, device, run_dir, node, Some(k));
        }
    }
    extra_args(&mut argv, scenario, run_dir, node);
    argv.0
}

/// The scenario's `qemu_args`, placeholders filled in.
fn extra_args(argv: &mut Argv, scenario: &Scenario, run_dir: &Path, node: usize) {
    let run_dir_text = run_dir.display().to_string();
    let node_text = node.to_string();
    for extra in &scenario.qemu_args {
        argv.flag(
            extra
                .replace("{rundir}", &run_dir_text)
                .replace("{node}", &node_text),
        );
    }
}

/// The `-netdev` of node `node` on L2 segment `k` (the runner's hub).
fn netdev_arg(run_dir: &Path, node: usize, k: usize) -> String {
    let local = opt_path(&net_socket(run_dir, node, k));
    let hub = opt_path(&net_hub(run_dir, k));
    format!(
        "dgram,id=net{k},local.type=unix,local.path={local},\
         remote.type=unix,remote.path={hub}"
    )
}

/// Adds the arguments that attach `device` to `node`; on a chassis `port`
/// is its root port's slot: the device (for `qemu`, its first entry; for
/// NVMe, the controller) goes on that bus, and a NIC gets no option ROM.
fn device_args(argv: &mut Argv, device: &Device, run_dir: &Path, node: usize, port: Option<usize>) {
    let k = device.index;
    let bus = port.map_or(String::new(), |p| format!(",bus={}", chassis_port(p)));
    match &device.kind {
        DeviceKind::Qemu {
            devices,
            size_mib,
            net,
        } => {
            if size_mib.is_some() {
                let image = opt_path(&disk_image(run_dir, node, k));
                argv.opt(
                    "-drive",
                    format!("if=none,id=disk{k},file={image},format=raw"),
                );
            }
            if let Some(n) = *net {
                argv.opt("-netdev", netdev_arg(run_dir, node, n));
            }
            for (i, d) in devices.iter().enumerate() {
                let mut a = d
                    .replace("{k}", &k.to_string())
                    .replace("{node}", &node.to_string())
                    .replace("{drive}", &format!("disk{k}"));
                if let Some(n) = *net {
                    a = a
                        .replace("{netdev}", &format!("net{n}"))
                        .replace("{mac}", &mac(node, n));
                }
                if i == 0 {
                    a.push_str(&bus);
                }
                argv.opt("-device", a);
            }
        }
        &DeviceKind::Nvme {
            cmb_mib,
            namespaces,
            ..
        } => {
            let cmb = if cmb_mib > 0 {
                format!(",cmb_size_mb={cmb_mib}")
            } else {
                String::new()
            };
            let Some(n) = namespaces else {
                let image = opt_path(&nvme_image(run_dir, node, k));
                argv.opt(
                    "-drive",
                    format!("if=none,id=nvme{k},file={image},format=raw"),
                )
                .opt(
                    "-device",
                    format!("nvme,serial=rsio{node}n{k},drive=nvme{k}{cmb}{bus}"),
                );
                return;
            };
            // The controller first: its namespaces name it as their bus.
            argv.opt(
                "-device",
                format!("nvme,id=nvme{k},serial=rsio{node}n{k}{cmb}{bus}"),
            );
            for j in 0..n {
                let image = opt_path(&nvme_ns_image(run_dir, node, k, j));
                argv.opt(
                    "-drive",
                    format!("if=none,id=nvme{k}n{j},file={image},format=raw"),
                )
                .opt(
                    "-device",
                    format!("nvme-ns,drive=nvme{k}n{j},bus=nvme{k},nsid={}", j + 1),
                );
            }
        }
        DeviceKind::E1000e | DeviceKind::Igb => {
            let model = device.kind.nic_model().unwrap_or("e1000e");
            // A chassis runs no option ROM: none to load.
            let rom = if port.is_some() { ",romfile=" } else { "" };
            argv.opt("-netdev", netdev_arg(run_dir, node, k)).opt(
                "-device",
                format!("{model},netdev=net{k},mac={}{bus}{rom}", mac(node, k)),
            );
        }
    }
}

/// A command line under construction.
#[derive(Debug, Default)]
struct Argv(Vec<String>);

impl Argv {
    fn flag(&mut self, flag: impl Into<String>) -> &mut Self {
        self.0.push(flag.into());
        self
    }

    fn opt(&mut self, flag: &str, value: impl Into<String>) -> &mut Self {
        self.0.push(flag.to_owned());
        self.0.push(value.into());
        self
    }

    fn extend(&mut self, args: &[String]) -> &mut Self {
        self.0.extend_from_slice(args);
        self
    }
}

/// A path as a QEMU option value, where a comma must be doubled.
fn opt_path(path: &Path) -> String {
    path.display().to_string().replace(',', ",,")
}

/// A running QEMU; killed and reaped when dropped.
#[derive(Debug)]
pub struct Vm {
    child: Child,
    exited: Option<ExitStatus>,
}

impl Vm {
    /// Starts `qemu` with `argv`, its stdout and stderr going to `log`.
    ///
    /// Must be called from the main thread: the parent-death signal fires
    /// when the *thread* that forked exits.
    pub fn spawn(qemu: &Path, argv: &[String], log: &Path) -> Result<Vm> {
        let out = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out
            .try_clone()
            .context("cannot duplicate the QEMU log file")?;
        let mut command = Command::new(qemu);
        process::guard(&mut command)
            .args(argv)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", qemu.display()))?;
        Ok(Vm {
            child,
            exited: None,
        })
    }

    /// QEMU's process id.
    #[cfg(test)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if QEMU has exited (it is reaped then).
    pub fn try_exit(&mut self) -> Result<Option<ExitStatus>> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().context("cannot check on QEMU")?;
        }
        Ok(self.exited)
    }

    /// Waits up to `timeout` for QEMU to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asks QEMU to exit (SIGTERM: it shuts down and exits 0); does not
    /// wait. A no-op once it exited.
    pub fn terminate(&mut self) {
        if matches!(self.try_exit(), Ok(None)) {
            process::signal(&self.child, libc::SIGTERM);
        }
    }

    /// Kills QEMU's process group and reaps QEMU; a no-op once it exited.
    pub fn kill(&mut self) {
        if matches!(self.try_exit(), Ok(Some(_))) {
            return;
        }
        // QEMU is not reaped yet, so its pid still names its group.
        process::signal_group(&self.child, libc::SIGKILL);
        let _ = self.child.kill();
        if let Ok(status) = self.child.wait() {
            self.exited = Some(status);
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Describes an exit status as "exit code N" or "killed by signal N".
pub fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> Scenario {
        Scenario::parse(Path::new("s.toml"), text).unwrap()
    }

    fn argv(s: &Scenario, node: usize) -> Vec<String> {
        let boot = Boot {
            kernel: Path::new("/k/bzImage"),
            initrd: Path::new("/run/r/initrd.img"),
            run_dir: Path::new("/run/r"),
        };
        node_argv(s, &boot, node, Ram::Memfd)
    }

    /// The value following each occurrence of `flag`.
    fn values<'a>(argv: &'a [String], flag: &str) -> Vec<&'a str> {
        argv.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].as_str())
            .collect()
    }

    #[test]
    fn a_node_boots_tcg_with_shared_memfd_ram() {
        let a = argv(&scenario("memory_mib = 512\n"), 0);
        assert_eq!(a[..2], ["-machine", "q35,memory-backend=ram"]);
        assert_eq!(values(&a, "-accel"), ["tcg"]);
        assert_eq!(values(&a, "-cpu"), ["max"]);
        assert_eq!(values(&a, "-smp"), ["1"]);
        assert_eq!(values(&a, "-m"), ["512M"]);
        assert_eq!(
            values(&a, "-object"),
            ["memory-backend-memfd,id=ram,size=512M,share=on"]
        );
        for flag in ["-nodefaults", "-no-reboot"] {
            assert!(a.iter().any(|x| x == flag), "{flag} missing");
        }
        assert_eq!(values(&a, "-display"), ["none"]);
    }

    #[test]
    fn on_the_fabric_the_emulators_arguments_replace_machine_and_ram() {
        let s = scenario("nodes = 2\nmemory_mib = 512\n[fabric]\n");
        let fabric: Vec<String> = [
            "-object",
            "memory-backend-file,id=ram,mem-path=/run/r/fabric/fabric.mem,offset=1073741824,\
             size=512M,share=on",
            "-machine",
            "q35,memory-backend=ram",
            "-device",
            r#"{"driver":"vfio-user-pci","socket":{"path":"/run/r/fabric/node1.sock","type":"unix"}}"#,
        ]
        .map(String::from)
        .to_vec();
        let boot = Boot {
            kernel: Path::new("/k/bzImage"),
            initrd: Path::new("/run/r/initrd.img"),
            run_dir: Path::new("/run/r"),
        };
        let a = node_argv(&s, &boot, 1, Ram::Fabric(&fabric));
        assert_eq!(
            a[..fabric.len()],
            fabric[..],
            "the fabric's arguments come first, as given"
        );
        assert_eq!(
            values(&a, "-machine"),
            ["q35,memory-backend=ram"],
            "only the fabric's"
        );
        assert_eq!(
            values(&a, "-object").len(),
            1,
            "no memfd backend of our own"
        );
        assert_eq!(values(&a, "-accel"), ["tcg"]);
        assert_eq!(values(&a, "-m"), ["512M"]);
        assert_eq!(
            values(&a, "-global"),
            ["pci-device.x-max-bounce-buffer-size=4194304"],
            "DMA into the direct window is not one 4 KiB bounce at a time"
        );
        assert!(values(&a, "-device").contains(&fabric[5].as_str()));
        assert!(
            values(&a, "-device").contains(&"virtio-serial-pci,id=vser"),
            "the rest of the node is unchanged"
        );
    }

    #[test]
    fn qemu_devices_get_their_disk_segment_and_placeholders() {
        let s = scenario(
            "nodes = 2\n[[device]]\nkind = 'e1000e'\n\
             [[device]]\nkind = 'qemu'\nsize_mib = 8\n\
             qemu_device = ['virtio-scsi-pci,id=scsi{k}', 'scsi-hd,bus=scsi{k}.0,drive={drive},serial=n{node}']\n\
             [[device]]\nkind = 'qemu'\nqemu_device = ['virtio-net-pci,netdev={netdev},mac={mac}']\n",
        );
        let a = argv(&s, 1);
        assert!(values(&a, "-drive")
            .contains(&"if=none,id=disk0,file=/run/r/node1-disk0.img,format=raw"));
        let devices = values(&a, "-device");
        assert!(devices.contains(&"virtio-scsi-pci,id=scsi0"));
        assert!(devices.contains(&"scsi-hd,bus=scsi0.0,drive=disk0,serial=n1"));
        assert!(devices.contains(&"virtio-net-pci,netdev=net1,mac=52:54:00:12:01:01"));
        assert!(
            values(&a, "-netdev")
                .iter()
                .any(|n| n.starts_with("dgram,id=net1,")
                    && n.ends_with("remote.path=/run/r/net1.hub"))
        );
    }

    #[test]
    fn the_kernel_learns_its_node_and_the_scenario_cmdline() {
        let s = scenario("nodes = 3\ncmdline = 'kmemleak=on rsio.debug=1'\n");
        let a = argv(&s, 2);
        assert_eq!(values(&a, "-kernel"), ["/k/bzImage"]);
        assert_eq!(values(&a, "-initrd"), ["/run/r/initrd.img"]);
        assert_eq!(
            values(&a, "-append"),
            ["console=ttyS0 panic=-1 no_timer_check no5lvl rsio.node=2 rsio.nodes=3 kmemleak=on rsio.debug=1"]
        );
    }

    #[test]
    fn console_control_port_and_qmp_live_in_the_run_directory() {
        let a = argv(&scenario("nodes = 2\n"), 1);
        assert_eq!(
            values(&a, "-chardev"),
            [
                "file,id=con,path=/run/r/node1.console.log",
                "socket,id=ctl,path=/run/r/node1.ctl,server=on,wait=off",
            ]
        );
        assert_eq!(values(&a, "-serial"), ["chardev:con"]);
        assert_eq!(
            values(&a, "-device"),
            [
                "virtio-serial-pci,id=vser",
                "virtserialport,bus=vser.0,chardev=ctl,name=rsio.ctl"
            ]
        );
        assert_eq!(
            values(&a, "-qmp"),
            ["unix:/run/r/node1.qmp,server=on,wait=off"]
        );
    }

    #[test]
    fn nvme_devices_get_a_per_node_image_and_serial() {
        let s = scenario(
            "nodes = 2\n[[device]]\nkind = 'nvme'\nnodes = [1]\n[[device]]\nkind = 'nvme'\n",
        );
        let node0 = argv(&s, 0);
        assert_eq!(
            values(&node0, "-drive"),
            ["if=none,id=nvme1,file=/run/r/node0-nvme1.img,format=raw"]
        );
        let node1 = argv(&s, 1);
        assert_eq!(
            values(&node1, "-drive"),
            [
                "if=none,id=nvme0,file=/run/r/node1-nvme0.img,format=raw",
                "if=none,id=nvme1,file=/run/r/node1-nvme1.img,format=raw",
            ]
        );
        assert!(values(&node1, "-device").contains(&"nvme,serial=rsio1n0,drive=nvme0"));
        assert!(values(&node1, "-device").contains(&"nvme,serial=rsio1n1,drive=nvme1"));
    }

    #[test]
    fn nvme_namespaces_are_nvme_ns_devices_with_an_image_each() {
        let s = scenario(
            "nodes = 2\n[[device]]\nkind = 'nvme'\nnodes = [1]\n\
             [[device]]\nkind = 'nvme'\nnamespaces = 2\ncmb_mib = 1\n",
        );
        let a = argv(&s, 1);
        let nvme: Vec<&str> = a
            .windows(2)
            .filter(|w| {
                (w[0] == "-drive" && w[1].contains("nvme"))
                    || (w[0] == "-device" && w[1].starts_with("nvme"))
            })
            .flat_map(|w| [w[0].as_str(), w[1].as_str()])
            .collect();
        assert_eq!(
            nvme,
            [
                "-drive",
                "if=none,id=nvme0,file=/run/r/node1-nvme0.img,format=raw",
                "-device",
                "nvme,serial=rsio1n0,drive=nvme0",
                "-device",
                "nvme,id=nvme1,serial=rsio1n1,cmb_size_mb=1",
                "-drive",
                "if=none,id=nvme1n0,file=/run/r/node1-nvme1-ns0.img,format=raw",
                "-device",
                "nvme-ns,drive=nvme1n0,bus=nvme1,nsid=1",
                "-drive",
                "if=none,id=nvme1n1,file=/run/r/node1-nvme1-ns1.img,format=raw",
                "-device",
                "nvme-ns,drive=nvme1n1,bus=nvme1,nsid=2",
            ],
            "the device without namespaces is as before; the other has no drive= of its own"
        );
        assert_eq!(
            values(&argv(&s, 0), "-drive"),
            [
                "if=none,id=nvme1n0,file=/run/r/node0-nvme1-ns0.img,format=raw",
                "if=none,id=nvme1n1,file=/run/r/node0-nvme1-ns1.img,format=raw",
            ],
            "per node images"
        );
        let dir = Path::new("/run/r");
        assert_eq!(
            nvme_images(dir, 0, 1, Some(2)),
            [
                dir.join("node0-nvme1-ns0.img"),
                dir.join("node0-nvme1-ns1.img")
            ]
        );
        assert_eq!(nvme_images(dir, 1, 0, None), [dir.join("node1-nvme0.img")]);
    }

    #[test]
    fn igb_nics_are_nics_of_their_own_model() {
        let s = scenario("nodes = 2\n[[device]]\nkind = 'igb'\nnodes = [0]\n");
        let a = argv(&s, 0);
        assert!(values(&a, "-device").contains(&"igb,netdev=net0,mac=52:54:00:12:00:00"));
        assert!(values(&argv(&s, 1), "-netdev").is_empty());
    }

    #[test]
    fn e1000e_nics_talk_to_their_segments_hub() {
        let s = scenario(
            "nodes = 4\n[[device]]\nkind = 'e1000e'\n[[device]]\nkind = 'e1000e'\nnodes = [3]\n",
        );
        let a = argv(&s, 3);
        assert_eq!(
            values(&a, "-netdev"),
            [
                "dgram,id=net0,local.type=unix,local.path=/run/r/node3-net0.sock,\
                 remote.type=unix,remote.path=/run/r/net0.hub",
                "dgram,id=net1,local.type=unix,local.path=/run/r/node3-net1.sock,\
                 remote.type=unix,remote.path=/run/r/net1.hub",
            ]
        );
        assert!(values(&a, "-device").contains(&"e1000e,netdev=net0,mac=52:54:00:12:00:03"));
        assert!(values(&a, "-device").contains(&"e1000e,netdev=net1,mac=52:54:00:12:01:03"));
        assert!(
            values(&argv(&s, 0), "-netdev").len() == 1,
            "node 0 is only on segment 0"
        );
    }

    #[test]
    fn scenario_qemu_args_come_last_with_placeholders_filled_in() {
        let s = scenario("nodes = 2\nqemu_args = ['-device', 'x,path={rundir}/n{node}.sock']\n");
        let a = argv(&s, 1);
        assert_eq!(a[a.len() - 2..], ["-device", "x,path=/run/r/n1.sock"]);
    }

    #[test]
    fn an_iommu_node_gets_intel_iommu_before_its_devices() {
        let s = scenario("nodes = 2\niommu = [1]\n[[device]]\nkind = 'nvme'\n");
        let a = argv(&s, 1);
        let iommu = a
            .iter()
            .position(|x| x.starts_with("intel-iommu"))
            .expect("node 1 has an IOMMU");
        let nvme = a.iter().position(|x| x.starts_with("nvme,")).unwrap();
        assert!(iommu < nvme, "{a:?}");
        assert!(!argv(&s, 0).iter().any(|x| x.contains("iommu")));
        let bad = Scenario::parse(std::path::Path::new("x.toml"), "nodes = 2\niommu = [2]\n");
        assert!(format!("{:#}", bad.unwrap_err()).contains("iommu: node 2"));
    }

    #[test]
    fn commas_in_paths_are_escaped_in_option_values() {
        let s = scenario("");
        let boot = Boot {
            kernel: Path::new("/k"),
            initrd: Path::new("/i"),
            run_dir: Path::new("/a,b"),
        };
        let a = node_argv(&s, &boot, 0, Ram::Memfd);
        assert_eq!(
            values(&a, "-qmp"),
            ["unix:/a,,b/node0.qmp,server=on,wait=off"]
        );
    }

    /// The fabric's arguments for chassis node 2, as the emulator writes
    /// them.
    fn chassis_fabric_args() -> Vec<String> {
        [
            "-object",
            "memory-backend-file,id=ram,mem-path=/run/r/fabric/fabric.mem,offset=805306368,\
             size=384M,share=on",
            "-machine",
            "q35,memory-backend=ram",
            "-bios",
            "/run/r/fabric/node2.bios",
            "-device",
            r#"{"driver":"vfio-user-pci","socket":{"path":"/run/r/fabric/node2.sock","type":"unix"},"addr":"02.0"}"#,
            "-device",
            "rsio-alias,addr=1e.0",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn a_chassis_runs_the_firmware_with_each_device_behind_a_root_port() {
        let s = scenario(
            "nodes = 3\nchassis = [2]\nchassis_slots = 6\n[fabric]\n\
             [[device]]\nkind = 'nvme'\nnodes = [2]\nnamespaces = 2\n\
             [[device]]\nkind = 'e1000e'\nnodes = [0, 2]\n\
             [[device]]\nkind = 'qemu'\nnodes = [2]\nqemu_device = ['edu,id=edu{k}']\n\
             [[device]]\nkind = 'nvme'\nnodes = [2]\n",
        );
        let fabric = chassis_fabric_args();
        let a = node_argv(
            &s,
            &Boot {
                kernel: Path::new("/k/bzImage"),
                initrd: Path::new("/run/r/initrd.img"),
                run_dir: Path::new("/run/r"),
            },
            2,
            Ram::Fabric(&fabric),
        );
        let mut expected = fabric.clone();
        expected.extend(
            [
                "-global",
                "pci-device.x-max-bounce-buffer-size=4194304",
                "-accel",
                "tcg",
                "-cpu",
                "max",
                "-smp",
                "1",
                "-m",
                "384M",
                "-nodefaults",
                "-display",
                "none",
                "-no-reboot",
                "-chardev",
                "file,id=con,path=/run/r/node2.console.log",
                "-serial",
                "chardev:con",
                "-qmp",
                "unix:/run/r/node2.qmp,server=on,wait=off",
                "-device",
                "pcie-root-port,id=chs0,chassis=1,slot=0,addr=0x4.0,bus=pcie.0",
                "-device",
                "nvme,id=nvme0,serial=rsio2n0,bus=chs0",
                "-drive",
                "if=none,id=nvme0n0,file=/run/r/node2-nvme0-ns0.img,format=raw",
                "-device",
                "nvme-ns,drive=nvme0n0,bus=nvme0,nsid=1",
                "-drive",
                "if=none,id=nvme0n1,file=/run/r/node2-nvme0-ns1.img,format=raw",
                "-device",
                "nvme-ns,drive=nvme0n1,bus=nvme0,nsid=2",
                "-device",
                "pcie-root-port,id=chs1,chassis=2,slot=1,addr=0x5.0,bus=pcie.0",
                "-netdev",
                "dgram,id=net0,local.type=unix,local.path=/run/r/node2-net0.sock,\
                 remote.type=unix,remote.path=/run/r/net0.hub",
                "-device",
                "e1000e,netdev=net0,mac=52:54:00:12:00:02,bus=chs1,romfile=",
                "-device",
                "pcie-root-port,id=chs2,chassis=3,slot=2,addr=0x6.0,bus=pcie.0",
                "-device",
                "edu,id=edu0,bus=chs2",
                "-device",
                "pcie-root-port,id=chs3,chassis=4,slot=3,addr=0x7.0,bus=pcie.0",
                "-drive",
                "if=none,id=nvme1,file=/run/r/node2-nvme1.img,format=raw",
                "-device",
                "nvme,serial=rsio2n1,drive=nvme1,bus=chs3",
                "-device",
                "pcie-root-port,id=chs4,chassis=5,slot=4,addr=0x8.0,bus=pcie.0",
                "-device",
                "pcie-root-port,id=chs5,chassis=6,slot=5,addr=0x9.0,bus=pcie.0",
            ]
            .map(String::from),
        );
        assert_eq!(a, expected);
        for absent in [
            "-kernel",
            "-initrd",
            "-append",
            "virtio-serial-pci",
            "rsio.ctl",
        ] {
            assert!(!a.iter().any(|x| x.contains(absent)), "{absent}: {a:?}");
        }
        let node0 = node_argv(
            &s,
            &Boot {
                kernel: Path::new("/k/bzImage"),
                initrd: Path::new("/run/r/initrd.img"),
                run_dir: Path::new("/run/r"),
            },
            0,
            Ram::Memfd,
        );
        assert!(
            values(&node0, "-device").contains(&"e1000e,netdev=net0,mac=52:54:00:12:00:00"),
            "the same NIC on an OS node: no port, its ROM"
        );
        assert!(!node0.iter().any(|x| x.contains("pcie-root-port")));
    }

    #[test]
    fn a_chassis_gets_spare_root_ports_up_to_24_slots() {
        let s = scenario(
            "nodes = 2\nchassis = [0]\nqemu_args = ['-trace', 'pci_*']\n[fabric]\n\
             [[device]]\nkind = 'igb'\nnodes = [0]\n\
             [[device]]\nkind = 'qemu'\nnodes = [0, 1]\nsize_mib = 8\n\
             qemu_device = ['ich9-ahci,id=ahci{k}', 'ide-hd,bus=ahci{k}.0,drive={drive}']\n",
        );
        let a = argv(&s, 0);
        let devices = values(&a, "-device");
        assert_eq!(
            devices,
            [
                "pcie-root-port,id=chs0,chassis=1,slot=0,addr=0x4.0,bus=pcie.0",
                "igb,netdev=net0,mac=52:54:00:12:00:00,bus=chs0,romfile=",
                "pcie-root-port,id=chs1,chassis=2,slot=1,addr=0x5.0,bus=pcie.0",
                "ich9-ahci,id=ahci0,bus=chs1",
                "ide-hd,bus=ahci0.0,drive=disk0",
                "pcie-root-port,id=chs2,chassis=3,slot=2,addr=0x6.0,bus=pcie.0",
                "pcie-root-port,id=chs3,chassis=4,slot=3,addr=0x7.0,bus=pcie.0",
            ],
            "devices + 2 ports; only the first qemu_device entry gets the bus"
        );
        assert_eq!(
            a[a.len() - 2..],
            ["-trace", "pci_*"],
            "qemu_args apply to a chassis too"
        );
        assert_eq!(
            root_port(23),
            "pcie-root-port,id=chs23,chassis=24,slot=23,addr=0x1b.0,bus=pcie.0",
            "the last port stays below the alias at 0x1e"
        );
        assert!(values(&argv(&s, 1), "-device").contains(&"ich9-ahci,id=ahci0"));
    }

    #[test]
    fn macs_encode_segment_and_node_in_hex() {
        assert_eq!(mac(2, 0), "52:54:00:12:00:02");
        assert_eq!(mac(3, 10), "52:54:00:12:0a:03");
    }

    #[test]
    fn a_vm_is_killed_and_reaped_on_drop() {
        let dir = crate::testutil::TempDir::new("vm");
        let mut vm = Vm::spawn(
            Path::new("/bin/sleep"),
            &["30".into()],
            &dir.path().join("log"),
        )
        .unwrap();
        let pid = vm.child.id() as libc::pid_t;
        assert_eq!(vm.try_exit().unwrap(), None);
        // It runs in its own process group.
        // SAFETY: getpgid(2) only reads the process group of a live child.
        assert_eq!(unsafe { libc::getpgid(pid) }, pid);
        drop(vm);
        // SAFETY: kill(2) with signal 0 only probes whether `pid` exists.
        assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "the process is gone");
    }

    #[test]
    fn a_vm_that_exits_reports_its_status() {
        let dir = crate::testutil::TempDir::new("vm-exit");
        let mut vm = Vm::spawn(
            Path::new("/bin/sh"),
            &["-c".into(), "echo oops >&2; exit 3".into()],
            &dir.path().join("log"),
        )
        .unwrap();
        let status = vm
            .wait_exit(Duration::from_secs(10))
            .unwrap()
            .expect("sh exits");
        assert_eq!(describe_exit(status), "exit code 3");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("log")).unwrap(),
            "oops\n"
        );
    }
}
