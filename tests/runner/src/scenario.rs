//! Scenario files: the declarative TOML description of a cluster (nodes,
//! memory, devices) and the steps to run on it.
//!
//! ```toml
//! name = "boot"               # default: the file stem; [A-Za-z0-9._-]
//! description = "..."         # optional
//! nodes = 2                   # 1..=4, default 1 (counting expansion chassis)
//! chassis = [2]               # expansion chassis among them (fabric only), default none
//! chassis_slots = 8           # root ports per chassis, 1..=24 (default: its devices + 2)
//! memory_mib = 384            # 256..=1024, default 384
//! cmdline = "kmemleak=on"     # extra kernel arguments, optional
//! boot_timeout = 120          # seconds for every node to be ready, default 180
//! qemu_args = []              # extra QEMU arguments; {rundir} and {node} are filled in
//! iommu = [0]                 # nodes with QEMU's intel-iommu (DMA remapping), default none
//! console_reject = ["..."]    # regexes; replaces the default list (BUG:, WARNING:, ...)
//!
//! [[device]]
//! kind = "nvme"               # "nvme" | "e1000e" | "igb" (82576, SR-IOV PF) | "qemu"
//! nodes = [0]                 # default: all nodes but the chassis
//! size_mib = 64               # nvme and qemu: the disk image per node (nvme: default 64)
//! cmb_mib = 1                 # nvme only: a controller memory buffer (BAR 2), default none
//! namespaces = 2              # nvme only: 1..=8 namespaces (nsid 1..), each an nvme-ns
//!                             #   device with an image of `size_mib` of its own; default:
//!                             #   none, the controller's one drive is namespace 1
//!
//! [[device]]                  # any QEMU device model(s), with placeholders:
//! kind = "qemu"               #   {drive}: the disk of `size_mib` (required then),
//! qemu_device = [             #   {netdev}, {mac}: a port on an L2 segment of its own
//!   "ich9-ahci,id=ahci{k}",   #   (as e1000e's), {k}: its index among qemu devices,
//!   "ide-hd,bus=ahci{k}.0,drive={drive}",  # {node}: the node
//! ]
//!
//! [fabric]                    # the nodes sit on the emulated NTB fabric
//! multicast = [[0, 1]]        # multicast groups (member nodes), default none
//! lut_slots = 64              # adapter geometry, each optional: the
//! slot_shift = 21             #   emulator's defaults otherwise
//! in_windows = 32
//! dma_channels = 2
//! direct_alias = true         # the direct window's memory alias for device
//!                             #   DMA (docs/emulator.md), default true
//! dma_read_max = 65536        # largest vfio-user DMA_READ the emulator
//!                             #   sends (its default otherwise)
//!
//! [[step]]
//! name = "load module"        # default "step <n>"
//! nodes = [0, 1]              # default: all nodes; or `node = 0`
//! run = "insmod ..."          # a sh script, may be multi-line
//! timeout = 30                # seconds, default 60
//! expect_rc = 0               # default 0
//! expect = ["regex"]          # every one must match the step's output
//! reject = ["regex"]          # none may match
//! parallel = false            # run on the nodes at once, else in list order
//!
//! [[step]]
//! name = "take node 1's link down"
//! host = "\"$RSIO_FABRIC\" ctl --dir \"$RSIO_FABRIC_DIR\" link-down 1"
//!
//! [[step]]
//! name = "node 1 dies"
//! kill = 1                    # SIGKILL node 1's QEMU, here and now
//! ```
//!
//! A step has either `run`, a script for the guests, `host`, a script the
//! runner runs once on the host (no `node`, `nodes` or `parallel` then), or
//! `kill`, a node whose QEMU the runner kills (only `name` besides). A killed
//! node is gone for the rest of the scenario: later steps without `node` or
//! `nodes` run on the nodes still alive, and naming a killed node is an
//! error, so this is checked when the file is loaded.
//!
//! An expansion chassis (`chassis`) is a fabric node that runs no OS: its
//! QEMU boots the emulator's firmware, which programs config space and
//! halts; its devices sit behind PCIe root ports, one each, for the hosts
//! to reach through the fabric. No step may name a chassis (`node`,
//! `nodes`, `kill`), and "every node" (a step without a node list) means
//! every node but the chassis.
//!
//! All regexes are in multi-line mode (`^` and `$` match at line ends). The
//! console patterns are checked against every node's console after boot,
//! after each step and after shutdown.
//!
//! Parsing happens in two stages: serde reads the file into `Raw*` structs
//! that mirror the TOML exactly (unknown keys are errors), then
//! [`Scenario::from_raw`] applies defaults, checks ranges and node indices and
//! compiles the regexes, so a [`Scenario`] is always valid.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use regex::{Regex, RegexBuilder};
use serde::Deserialize;

pub const NODES: RangeInclusive<usize> = 1..=4;
pub const MEMORY_MIB: RangeInclusive<u32> = 256..=1024;
pub const NVME_SIZE_MIB: RangeInclusive<u64> = 1..=65536;
pub const DEFAULT_MEMORY_MIB: u32 = 384;
pub const DEFAULT_BOOT_TIMEOUT_SECS: u64 = 180;
pub const DEFAULT_STEP_TIMEOUT_SECS: u64 = 60;
pub const DEFAULT_NVME_SIZE_MIB: u64 = 64;
/// An NVMe controller memory buffer's size (0: none).
pub const NVME_CMB_MIB: RangeInclusive<u32> = 0..=64;
/// Namespaces of an NVMe controller given as `nvme-ns` devices.
pub const NVME_NAMESPACES: RangeInclusive<u32> = 1..=8;

/// The adapter's limits (docs/adapter.md, section 4.1): checked here so a
/// bad value fails at load time, not when the emulator refuses it.
pub const FABRIC_NODES: RangeInclusive<usize> = 2..=4;
pub const LUT_SLOTS: RangeInclusive<u32> = 1..=256;
pub const SLOT_SHIFT: RangeInclusive<u32> = 12..=30;
pub const IN_WINDOWS: RangeInclusive<u32> = 1..=64;
pub const DMA_CHANNELS: RangeInclusive<u32> = 0..=4;
pub const MAX_MULTICAST_GROUPS: usize = 8;
/// Root ports of an expansion chassis: at PCI slots 0x4..=0x1b of its q35
/// (the adapter is at 0x2, the direct window's alias at 0x1e).
pub const CHASSIS_SLOTS: RangeInclusive<usize> = 1..=24;
/// Empty root ports a chassis gets beyond its devices by default, for
/// devices added at run time.
pub const CHASSIS_SPARE_SLOTS: usize = 2;

/// Console patterns that fail a scenario unless it lists its own.
pub const DEFAULT_CONSOLE_REJECT: &[&str] = &[
    "BUG:",
    "WARNING:",
    "Oops",
    "Kernel panic",
    "KASAN",
    "UBSAN",
    "possible circular locking",
    "suspected memory leak",
    "general protection fault",
    "Call Trace",
];

/// A validated scenario.
#[derive(Debug)]
pub struct Scenario {
    /// The file it was read from.
    pub path: PathBuf,
    /// Names log and run directories, so limited to `[A-Za-z0-9._-]`.
    pub name: String,
    pub description: Option<String>,
    pub nodes: usize,
    /// The nodes that are expansion chassis (no OS), ascending; only on a
    /// fabric, and never every node.
    pub chassis: Vec<usize>,
    /// `chassis_slots`: the root ports of every chassis, if given (else
    /// see [`Scenario::chassis_slots`]).
    pub chassis_slots: Option<usize>,
    pub memory_mib: u32,
    /// Extra kernel command line arguments.
    pub cmdline: String,
    /// Time for every node to boot and report ready.
    pub boot_timeout: Duration,
    /// Extra QEMU arguments for every node; `{rundir}` and `{node}` are
    /// substituted.
    pub qemu_args: Vec<String>,
    /// Nodes that get an IOMMU (QEMU's intel-iommu): their devices' DMA is
    /// remapped (the lender isolates a lent function with it).
    pub iommu: Vec<usize>,
    /// Checked against every node's console after each step and at the end.
    pub console_reject: Vec<Regex>,
    pub devices: Vec<Device>,
    /// The emulated NTB fabric all nodes sit on, if the scenario has one.
    pub fabric: Option<Fabric>,
    pub steps: Vec<Step>,
}

/// The `[fabric]` table: every node gets an RSIO-NTB1 adapter served by
/// `rsio-fabric`, which also holds the nodes' RAM. Geometry left out is the
/// emulator's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fabric {
    /// Multicast groups, each its member nodes, ascending.
    pub multicast: Vec<Vec<usize>>,
    pub lut_slots: Option<u32>,
    pub slot_shift: Option<u32>,
    pub in_windows: Option<u32>,
    pub dma_channels: Option<u32>,
    /// The direct window's memory alias (`DIRECT_ALIAS`); `false` leaves
    /// it out (`rsio-fabric serve --no-direct-alias`).
    pub direct_alias: bool,
    /// `rsio-fabric serve --dma-read-max`.
    pub dma_read_max: Option<u32>,
}

impl Default for Fabric {
    fn default() -> Self {
        Fabric {
            multicast: Vec::new(),
            lut_slots: None,
            slot_shift: None,
            in_windows: None,
            dma_channels: None,
            direct_alias: true,
            dma_read_max: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub kind: DeviceKind,
    /// Its number among the scenario's devices of the same kind (the `k` in
    /// `nvme<k>` and `net<k>`).
    pub index: usize,
    /// The nodes that get this device, ascending.
    pub nodes: Vec<usize>,
}

impl Scenario {
    /// Whether `node` is an expansion chassis.
    pub fn is_chassis(&self, node: usize) -> bool {
        self.chassis.contains(&node)
    }

    /// The devices on chassis `node`, in scenario order: the `k`-th sits
    /// behind root port `k`.
    pub fn chassis_devices(&self, node: usize) -> Vec<&Device> {
        self.devices
            .iter()
            .filter(|d| d.nodes.contains(&node))
            .collect()
    }

    /// How many root ports chassis `node` gets: `chassis_slots`, else its
    /// devices plus [`CHASSIS_SPARE_SLOTS`], at most 24.
    pub fn chassis_slots(&self, node: usize) -> usize {
        self.chassis_slots.unwrap_or_else(|| {
            (self.chassis_devices(node).len() + CHASSIS_SPARE_SLOTS).min(*CHASSIS_SLOTS.end())
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKind {
    /// An NVMe controller backed by a sparse raw image per node, or with
    /// `namespaces`, by one `nvme-ns` device and image per namespace.
    Nvme {
        size_mib: u64,
        cmb_mib: u32,
        namespaces: Option<u32>,
    },
    /// An e1000e NIC; all its nodes share one L2 segment.
    E1000e,
    /// An igb NIC (82576, with SR-IOV: 7 VFs); its nodes share one L2
    /// segment, as e1000e's.
    Igb,
    /// Any QEMU device models: one `-device` per entry, placeholders
    /// filled in per node (see the module docs). `size_mib`: a sparse raw
    /// image per node for `{drive}`; `net`: the L2 segment (numbered with
    /// the NICs') for `{netdev}` and `{mac}`.
    Qemu {
        devices: Vec<String>,
        size_mib: Option<u64>,
        net: Option<usize>,
    },
}

impl DeviceKind {
    /// The QEMU model of a NIC kind (`None`: not a NIC).
    pub fn nic_model(&self) -> Option<&'static str> {
        match self {
            DeviceKind::Nvme { .. } | DeviceKind::Qemu { .. } => None,
            DeviceKind::E1000e => Some("e1000e"),
            DeviceKind::Igb => Some("igb"),
        }
    }
}

#[derive(Debug)]
pub struct Step {
    pub name: String,
    /// Where the script runs.
    pub target: Target,
    /// A `sh` script.
    pub run: String,
    pub timeout: Duration,
    pub expect_rc: i32,
    /// Every one must match the output (multi-line mode: `^`/`$` match at
    /// line boundaries).
    pub expect: Vec<Regex>,
    /// None may match the output.
    pub reject: Vec<Regex>,
    /// Run on all nodes at once instead of one after the other.
    pub parallel: bool,
}

/// Where a step's script runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// In these guests, in the order given (`run`).
    Nodes(Vec<usize>),
    /// Once, on the host (`host`).
    Host,
    /// No script: the runner kills this node's QEMU (`kill`), which takes
    /// the node out of the rest of the scenario.
    Kill(usize),
}

impl Step {
    /// The nodes the step runs on; none for a host or kill step.
    pub fn nodes(&self) -> &[usize] {
        match &self.target {
            Target::Nodes(nodes) => nodes,
            Target::Host | Target::Kill(_) => &[],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    description: Option<String>,
    nodes: Option<usize>,
    #[serde(default)]
    chassis: Vec<usize>,
    chassis_slots: Option<usize>,
    memory_mib: Option<u32>,
    cmdline: Option<String>,
    boot_timeout: Option<u64>,
    #[serde(default)]
    qemu_args: Vec<String>,
    #[serde(default)]
    iommu: Vec<usize>,
    console_reject: Option<Vec<String>>,
    #[serde(default, rename = "device")]
    devices: Vec<RawDevice>,
    fabric: Option<RawFabric>,
    #[serde(default, rename = "step")]
    steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFabric {
    #[serde(default)]
    multicast: Vec<Vec<usize>>,
    lut_slots: Option<u32>,
    slot_shift: Option<u32>,
    in_windows: Option<u32>,
    dma_channels: Option<u32>,
    direct_alias: Option<bool>,
    dma_read_max: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    kind: RawDeviceKind,
    nodes: Option<Vec<usize>>,
    size_mib: Option<u64>,
    cmb_mib: Option<u32>,
    namespaces: Option<u32>,
    qemu_device: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawDeviceKind {
    Nvme,
    E1000e,
    Igb,
    Qemu,
}

/// The placeholders a `qemu_device` entry may use.
const QEMU_PLACEHOLDERS: [&str; 5] = ["{k}", "{node}", "{drive}", "{netdev}", "{mac}"];

/// Checks a `qemu` device's entries; returns whether they use a disk and
/// a network port.
fn check_qemu_devices(devices: &[String]) -> Result<(bool, bool)> {
    ensure!(!devices.is_empty(), "`qemu_device` is empty");
    let (mut drive, mut net) = (false, false);
    for d in devices {
        ensure!(!d.trim().is_empty(), "an empty `qemu_device` entry");
        ensure!(
            !d.chars().any(char::is_whitespace),
            "`qemu_device` entry {d:?} has whitespace (one -device argument each)"
        );
        let mut rest = d.as_str();
        while let Some(at) = rest.find('{') {
            let p = QEMU_PLACEHOLDERS
                .iter()
                .find(|p| rest[at..].starts_with(**p))
                .with_context(|| {
                    format!(
                        "`qemu_device` entry {d:?}: unknown placeholder at {:?} (known: {})",
                        &rest[at..],
                        QEMU_PLACEHOLDERS.join(" ")
                    )
                })?;
            drive |= *p == "{drive}";
            net |= *p == "{netdev}" || *p == "{mac}";
            rest = &rest[at + p.len()..];
        }
    }
    Ok((drive, net))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Option<String>,
    node: Option<usize>,
    nodes: Option<Vec<usize>>,
    run: Option<String>,
    host: Option<String>,
    kill: Option<usize>,
    timeout: Option<u64>,
    expect_rc: Option<i32>,
    #[serde(default)]
    expect: Vec<String>,
    #[serde(default)]
    reject: Vec<String>,
    parallel: Option<bool>,
}

impl Scenario {
    /// Reads and validates a scenario file; errors name the file.
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scenario {}", path.display()))?;
        Self::parse(path, &text)
    }

    /// Parses and validates scenario text; `path` names it in errors and
    /// gives the default name.
    pub fn parse(path: &Path, text: &str) -> Result<Scenario> {
        let raw: RawScenario = toml::from_str(text)
            .with_context(|| format!("{}: not a valid scenario", path.display()))?;
        Self::from_raw(path, raw).with_context(|| format!("{}: invalid scenario", path.display()))
    }

    fn from_raw(path: &Path, raw: RawScenario) -> Result<Scenario> {
        let name = match raw.name {
            Some(name) => name,
            None => path
                .file_stem()
                .and_then(|s| s.to_str())
                .context("the file name is not valid UTF-8; give the scenario a `name`")?
                .to_owned(),
        };
        check_name(&name)?;

        let nodes = raw.nodes.unwrap_or(1);
        check_range("nodes", nodes, &NODES)?;
        let memory_mib = raw.memory_mib.unwrap_or(DEFAULT_MEMORY_MIB);
        check_range("memory_mib", memory_mib, &MEMORY_MIB)?;
        let boot_timeout = raw.boot_timeout.unwrap_or(DEFAULT_BOOT_TIMEOUT_SECS);
        ensure!(boot_timeout > 0, "boot_timeout must be at least 1 second");

        let console_reject = match raw.console_reject {
            Some(patterns) => compile_all("console_reject", &patterns)?,
            None => {
                let defaults: Vec<String> = DEFAULT_CONSOLE_REJECT
                    .iter()
                    .map(|s| regex::escape(s))
                    .collect();
                compile_all("console_reject", &defaults)?
            }
        };

        let chassis = check_chassis(&raw.chassis, nodes, raw.fabric.is_some())?;
        for &node in &raw.iommu {
            ensure!(
                node < nodes,
                "iommu: node {node} is not one of the {nodes} nodes"
            );
            ensure!(
                !chassis.contains(&node),
                "iommu: node {node} is an expansion chassis (it runs no OS to use an IOMMU)"
            );
        }
        let devices = devices_from_raw(raw.devices, nodes, &chassis)?;
        let chassis_slots = check_chassis_slots(raw.chassis_slots, &chassis, &devices)?;
        let fabric = raw
            .fabric
            .map(|fabric| Fabric::from_raw(fabric, nodes))
            .transpose()
            .context("[fabric]")?;
        let mut living = Living::new(nodes, &chassis);
        let steps = raw
            .steps
            .into_iter()
            .enumerate()
            .map(|(i, step)| {
                let label = match &step.name {
                    Some(name) => format!("step {} ({name:?})", i + 1),
                    None => format!("step {}", i + 1),
                };
                Step::from_raw(i + 1, step, &mut living).context(label)
            })
            .collect::<Result<Vec<_>>>()?;

        Ok(Scenario {
            path: path.to_owned(),
            name,
            description: raw.description,
            nodes,
            chassis,
            chassis_slots,
            memory_mib,
            cmdline: raw.cmdline.unwrap_or_default().trim().to_owned(),
            boot_timeout: Duration::from_secs(boot_timeout),
            qemu_args: raw.qemu_args,
            iommu: raw.iommu,
            console_reject,
            devices,
            fabric,
            steps,
        })
    }
}

impl Fabric {
    fn from_raw(raw: RawFabric, scenario_nodes: usize) -> Result<Fabric> {
        ensure!(
            FABRIC_NODES.contains(&scenario_nodes),
            "the fabric needs {}..={} nodes, the scenario has {scenario_nodes}",
            FABRIC_NODES.start(),
            FABRIC_NODES.end()
        );
        ensure!(
            raw.multicast.len() <= MAX_MULTICAST_GROUPS,
            "at most {MAX_MULTICAST_GROUPS} multicast groups, not {}",
            raw.multicast.len()
        );
        let multicast = raw
            .multicast
            .iter()
            .enumerate()
            .map(|(g, members)| {
                let mut members = node_list(members, scenario_nodes)
                    .with_context(|| format!("multicast group {g}"))?;
                members.sort_unstable();
                Ok(members)
            })
            .collect::<Result<Vec<_>>>()?;
        let optional = |key: &str, value: Option<u32>, range: &RangeInclusive<u32>| {
            value.map(|v| check_range(key, v, range)).transpose()
        };
        optional("lut_slots", raw.lut_slots, &LUT_SLOTS)?;
        optional("slot_shift", raw.slot_shift, &SLOT_SHIFT)?;
        optional("in_windows", raw.in_windows, &IN_WINDOWS)?;
        optional("dma_channels", raw.dma_channels, &DMA_CHANNELS)?;
        Ok(Fabric {
            multicast,
            lut_slots: raw.lut_slots,
            slot_shift: raw.slot_shift,
            in_windows: raw.in_windows,
            dma_channels: raw.dma_channels,
            direct_alias: raw.direct_alias.unwrap_or(true),
            dma_read_max: raw.dma_read_max,
        })
    }
}

impl Step {
    /// Builds step `number`; `living` says which nodes are still alive at
    /// this point of the scenario, and a `kill` step updates it.
    fn from_raw(number: usize, raw: RawStep, living: &mut Living) -> Result<Step> {
        let (target, script) = match (raw.run, raw.host, raw.kill) {
            (Some(run), None, None) => {
                let nodes = match (raw.node, raw.nodes) {
                    (Some(_), Some(_)) => bail!("give either `node` or `nodes`, not both"),
                    (Some(node), None) => living.check(&node_list(&[node], living.nodes)?)?,
                    (None, Some(nodes)) => living.check(&node_list(&nodes, living.nodes)?)?,
                    (None, None) => living.alive()?,
                };
                ensure!(!run.trim().is_empty(), "`run` is empty");
                (Target::Nodes(nodes), run)
            }
            (None, Some(host), None) => {
                ensure!(
                    raw.node.is_none() && raw.nodes.is_none() && raw.parallel.is_none(),
                    "`node`, `nodes` and `parallel` are for `run` steps; a `host` step runs \
                     once, on the host"
                );
                ensure!(!host.trim().is_empty(), "`host` is empty");
                (Target::Host, host)
            }
            (None, None, Some(node)) => {
                ensure!(
                    raw.node.is_none()
                        && raw.nodes.is_none()
                        && raw.parallel.is_none()
                        && raw.timeout.is_none()
                        && raw.expect_rc.is_none()
                        && raw.expect.is_empty()
                        && raw.reject.is_empty(),
                    "a `kill` step takes only a `name`: it runs no script"
                );
                living.kill(node, number)?;
                (Target::Kill(node), String::new())
            }
            (None, None, None) => bail!(
                "give `run` (a script for the nodes), `host` (a script for the host) or `kill` \
                 (a node to kill)"
            ),
            _ => bail!("give only one of `run`, `host` and `kill`"),
        };
        let timeout = raw.timeout.unwrap_or(DEFAULT_STEP_TIMEOUT_SECS);
        ensure!(timeout > 0, "timeout must be at least 1 second");
        let expect_rc = raw.expect_rc.unwrap_or(0);
        check_range("expect_rc", expect_rc, &(0..=255))?;
        Ok(Step {
            name: raw.name.unwrap_or_else(|| format!("step {number}")),
            target,
            run: script,
            timeout: Duration::from_secs(timeout),
            expect_rc,
            expect: compile_all("expect", &raw.expect)?,
            reject: compile_all("reject", &raw.reject)?,
            parallel: raw.parallel.unwrap_or(false),
        })
    }
}

/// The nodes still alive at a point of the scenario, and which step killed
/// each of the others.
struct Living {
    /// The scenario's node count.
    nodes: usize,
    /// The expansion chassis: never alive in this sense (no OS).
    chassis: Vec<usize>,
    /// Killed node -> the number of the step that killed it.
    killed: std::collections::BTreeMap<usize, usize>,
}

impl Living {
    fn new(nodes: usize, chassis: &[usize]) -> Living {
        Living {
            nodes,
            chassis: chassis.to_vec(),
            killed: Default::default(),
        }
    }

    /// Every node still alive (chassis aside), ascending; an error if none
    /// is.
    fn alive(&self) -> Result<Vec<usize>> {
        let alive: Vec<usize> = (0..self.nodes)
            .filter(|node| !self.killed.contains_key(node) && !self.chassis.contains(node))
            .collect();
        ensure!(!alive.is_empty(), "every node has been killed by now");
        Ok(alive)
    }

    /// `nodes`, if all of them are still alive.
    fn check(&self, nodes: &[usize]) -> Result<Vec<usize>> {
        for node in nodes {
            ensure!(
                !self.chassis.contains(node),
                "node {node} is an expansion chassis (it runs no OS): no step runs on it or \
                 kills it"
            );
            if let Some(step) = self.killed.get(node) {
                bail!("node {node} was killed by step {step}");
            }
        }
        Ok(nodes.to_vec())
    }

    /// Takes `node` out, killed by step `step`.
    fn kill(&mut self, node: usize, step: usize) -> Result<()> {
        self.check(&node_list(&[node], self.nodes)?)?;
        self.killed.insert(node, step);
        Ok(())
    }
}

/// Checks the `chassis` list: existing nodes, once each, on a fabric, and
/// not all of them; returns it ascending.
fn check_chassis(chassis: &[usize], scenario_nodes: usize, fabric: bool) -> Result<Vec<usize>> {
    if chassis.is_empty() {
        return Ok(Vec::new());
    }
    let mut chassis = node_list(chassis, scenario_nodes).context("chassis")?;
    chassis.sort_unstable();
    ensure!(
        fabric,
        "chassis: an expansion chassis is a fabric node; the scenario needs a [fabric]"
    );
    ensure!(
        chassis.len() < scenario_nodes,
        "chassis: every node is an expansion chassis; at least one node must run an OS"
    );
    Ok(chassis)
}

/// Checks `chassis_slots` against the chassis and their devices (one root
/// port each).
fn check_chassis_slots(
    slots: Option<usize>,
    chassis: &[usize],
    devices: &[Device],
) -> Result<Option<usize>> {
    if let Some(slots) = slots {
        ensure!(
            !chassis.is_empty(),
            "chassis_slots is for expansion chassis; the scenario has none (`chassis`)"
        );
        check_range("chassis_slots", slots, &CHASSIS_SLOTS)?;
    }
    for &node in chassis {
        let count = devices.iter().filter(|d| d.nodes.contains(&node)).count();
        match slots {
            Some(slots) => ensure!(
                count <= slots,
                "chassis node {node} has {count} devices, more than its chassis_slots = {slots} \
                 root ports (one device each)"
            ),
            None => ensure!(
                count <= *CHASSIS_SLOTS.end(),
                "chassis node {node} has {count} devices, more than the {} root ports of a \
                 chassis (one device each)",
                CHASSIS_SLOTS.end()
            ),
        }
    }
    Ok(slots)
}

/// Reads the devices; one without `nodes` goes to every node but the
/// chassis.
fn devices_from_raw(
    raw: Vec<RawDevice>,
    scenario_nodes: usize,
    chassis: &[usize],
) -> Result<Vec<Device>> {
    let mut nvme_count = 0;
    let mut net_count = 0;
    let mut qemu_count = 0;
    let mut devices = Vec::with_capacity(raw.len());
    for (i, device) in raw.into_iter().enumerate() {
        let label = || format!("device {} ({:?})", i + 1, device.kind);
        let mut nodes = match &device.nodes {
            Some(nodes) => node_list(nodes, scenario_nodes).with_context(label)?,
            None => (0..scenario_nodes)
                .filter(|node| !chassis.contains(node))
                .collect(),
        };
        nodes.sort_unstable();
        ensure!(
            device.qemu_device.is_none() || device.kind == RawDeviceKind::Qemu,
            "{}: `qemu_device` is for kind \"qemu\" only",
            label()
        );
        ensure!(
            device.namespaces.is_none() || device.kind == RawDeviceKind::Nvme,
            "{}: `namespaces` is for nvme only",
            label()
        );
        let (kind, counter) = match device.kind {
            RawDeviceKind::Qemu => {
                let devices = device
                    .qemu_device
                    .clone()
                    .with_context(|| format!("{}: kind \"qemu\" needs `qemu_device`", label()))?;
                let (drive, uses_net) = check_qemu_devices(&devices).with_context(label)?;
                // On a chassis the runner puts the first entry on its root
                // port (`bus=chs<k>`).
                if let Some(&node) = nodes.iter().find(|n| chassis.contains(n)) {
                    ensure!(
                        !devices[0].split(',').any(|p| p.starts_with("bus=")),
                        "{}: on chassis node {node} the first `qemu_device` entry goes on \
                         its root port: it may not give a `bus=`",
                        label()
                    );
                }
                ensure!(
                    device.cmb_mib.is_none(),
                    "{}: `cmb_mib` is for nvme only",
                    label()
                );
                ensure!(
                    drive == device.size_mib.is_some(),
                    "{}: `size_mib` and a {{drive}} placeholder go together",
                    label()
                );
                if let Some(size_mib) = device.size_mib {
                    check_range("size_mib", size_mib, &NVME_SIZE_MIB).with_context(label)?;
                }
                let net = uses_net.then(|| {
                    net_count += 1;
                    net_count - 1
                });
                let kind = DeviceKind::Qemu {
                    devices,
                    size_mib: device.size_mib,
                    net,
                };
                (kind, &mut qemu_count)
            }
            RawDeviceKind::Nvme => {
                let size_mib = device.size_mib.unwrap_or(DEFAULT_NVME_SIZE_MIB);
                check_range("size_mib", size_mib, &NVME_SIZE_MIB).with_context(label)?;
                let cmb_mib = device.cmb_mib.unwrap_or(0);
                check_range("cmb_mib", cmb_mib, &NVME_CMB_MIB).with_context(label)?;
                if let Some(n) = device.namespaces {
                    check_range("namespaces", n, &NVME_NAMESPACES).with_context(label)?;
                }
                let kind = DeviceKind::Nvme {
                    size_mib,
                    cmb_mib,
                    namespaces: device.namespaces,
                };
                (kind, &mut nvme_count)
            }
            RawDeviceKind::E1000e | RawDeviceKind::Igb => {
                ensure!(
                    device.size_mib.is_none() && device.cmb_mib.is_none(),
                    "{}: `size_mib` and `cmb_mib` are for nvme only",
                    label()
                );
                let kind = if device.kind == RawDeviceKind::Igb {
                    DeviceKind::Igb
                } else {
                    DeviceKind::E1000e
                };
                (kind, &mut net_count)
            }
        };
        devices.push(Device {
            kind,
            index: *counter,
            nodes,
        });
        *counter += 1;
    }
    Ok(devices)
}

/// Checks a list of node indices: not empty, no duplicates, all in range.
fn node_list(nodes: &[usize], scenario_nodes: usize) -> Result<Vec<usize>> {
    ensure!(!nodes.is_empty(), "the node list is empty");
    let mut seen = BTreeSet::new();
    for &node in nodes {
        ensure!(
            node < scenario_nodes,
            "node {node} does not exist (the scenario has {scenario_nodes} node{}: 0..={})",
            if scenario_nodes == 1 { "" } else { "s" },
            scenario_nodes - 1
        );
        ensure!(seen.insert(node), "node {node} is listed twice");
    }
    Ok(nodes.to_vec())
}

fn check_name(name: &str) -> Result<()> {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    ensure!(
        !name.is_empty() && !name.starts_with('.') && name.len() <= 48 && name.chars().all(valid),
        "name {name:?} must be 1 to 48 characters of [A-Za-z0-9._-], not starting with '.' \
         (it names log and run directories)"
    );
    Ok(())
}

fn check_range<T>(key: &str, value: T, range: &RangeInclusive<T>) -> Result<()>
where
    T: PartialOrd + std::fmt::Display,
{
    ensure!(
        range.contains(&value),
        "{key} = {value} is out of range {}..={}",
        range.start(),
        range.end()
    );
    Ok(())
}

/// Compiles regexes in multi-line mode, naming the key and pattern on error.
fn compile_all(key: &str, patterns: &[String]) -> Result<Vec<Regex>> {
    patterns
        .iter()
        .map(|pattern| {
            RegexBuilder::new(pattern)
                .multi_line(true)
                .build()
                .with_context(|| format!("bad regex in `{key}`: {pattern:?}"))
        })
        .collect()
}

/// Expands command-line arguments into scenario files: a file stands for
/// itself, a directory for every `*.toml` in it, sorted by name.
pub fn expand_paths(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for arg in args {
        let meta =
            std::fs::metadata(arg).with_context(|| format!("no scenario at {}", arg.display()))?;
        if !meta.is_dir() {
            paths.push(arg.clone());
            continue;
        }
        let mut found = Vec::new();
        for entry in std::fs::read_dir(arg)
            .with_context(|| format!("cannot list scenarios in {}", arg.display()))?
        {
            let path = entry
                .with_context(|| format!("cannot list scenarios in {}", arg.display()))?
                .path();
            if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
                found.push(path);
            }
        }
        ensure!(!found.is_empty(), "no *.toml scenario in {}", arg.display());
        found.sort();
        paths.extend(found);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario> {
        Scenario::parse(Path::new("tests/cluster/example.toml"), text)
    }

    /// The full error chain, as the CLI prints it.
    fn error(text: &str) -> String {
        format!(
            "{:#}",
            parse(text).expect_err("the scenario should be rejected")
        )
    }

    const MINIMAL: &str = "[[step]]\nrun = \"true\"\n";

    #[test]
    fn a_minimal_scenario_gets_every_default() {
        let s = parse(MINIMAL).unwrap();
        assert_eq!(s.name, "example", "the name defaults to the file stem");
        assert_eq!(s.description, None);
        assert_eq!(s.nodes, 1);
        assert_eq!(s.memory_mib, 384);
        assert_eq!(s.cmdline, "");
        assert_eq!(s.boot_timeout, Duration::from_secs(180));
        assert!(s.qemu_args.is_empty());
        assert!(s.iommu.is_empty());
        assert!(s.devices.is_empty());
        assert_eq!(s.fabric, None);
        let step = &s.steps[0];
        assert_eq!(step.name, "step 1");
        assert_eq!(step.target, Target::Nodes(vec![0]));
        assert_eq!(step.timeout, Duration::from_secs(60));
        assert_eq!(step.expect_rc, 0);
        assert!(step.expect.is_empty() && step.reject.is_empty());
        assert!(!step.parallel);
    }

    #[test]
    fn the_default_console_reject_list_matches_literally() {
        let s = parse(MINIMAL).unwrap();
        assert_eq!(s.console_reject.len(), DEFAULT_CONSOLE_REJECT.len());
        let hit = |line: &str| s.console_reject.iter().any(|r| r.is_match(line));
        assert!(hit("[    3.1] BUG: KASAN: slab-out-of-bounds in foo"));
        assert!(hit(
            "[    3.2] WARNING: CPU: 0 PID: 1 at drivers/rsio/x.c:10"
        ));
        assert!(hit(" Call Trace:"));
        assert!(!hit("[    1.0] rsio: fabric up"));
    }

    #[test]
    fn a_given_console_reject_list_replaces_the_default() {
        let s = parse("console_reject = ['^rsio: fatal']\n").unwrap();
        assert_eq!(s.console_reject.len(), 1);
        assert!(s.console_reject[0].is_match("ok\nrsio: fatal error"));
        assert!(!s.console_reject[0].is_match("WARNING: something"));
    }

    #[test]
    fn every_documented_key_is_read() {
        let s = parse(
            r#"
            name = "boot"
            description = "two nodes boot"
            nodes = 2
            memory_mib = 512
            cmdline = "kmemleak=on "
            boot_timeout = 120
            qemu_args = ["-object", "x,id=y,path={rundir}/n{node}"]

            [[device]]
            kind = "nvme"
            nodes = [1]
            size_mib = 128

            [[device]]
            kind = "e1000e"

            [[device]]
            kind = "nvme"

            [[step]]
            name = "load module"
            nodes = [1, 0]
            run = "insmod /lib/modules/rsio/rsio_fabric.ko"
            timeout = 30
            expect_rc = 1
            expect = ["^loaded$"]
            reject = ["error"]
            parallel = true

            [[step]]
            node = 1
            run = "true"
            "#,
        )
        .unwrap();
        assert_eq!(s.name, "boot");
        assert_eq!(s.description.as_deref(), Some("two nodes boot"));
        assert_eq!((s.nodes, s.memory_mib), (2, 512));
        assert_eq!(s.cmdline, "kmemleak=on");
        assert_eq!(s.boot_timeout, Duration::from_secs(120));
        assert_eq!(s.qemu_args.len(), 2);
        assert_eq!(
            s.devices,
            vec![
                Device {
                    kind: DeviceKind::Nvme {
                        size_mib: 128,
                        cmb_mib: 0,
                        namespaces: None
                    },
                    index: 0,
                    nodes: vec![1]
                },
                Device {
                    kind: DeviceKind::E1000e,
                    index: 0,
                    nodes: vec![0, 1]
                },
                Device {
                    kind: DeviceKind::Nvme {
                        size_mib: 64,
                        cmb_mib: 0,
                        namespaces: None
                    },
                    index: 1,
                    nodes: vec![0, 1]
                },
            ],
            "devices are numbered per kind and default to all nodes"
        );
        let load = &s.steps[0];
        assert_eq!(load.name, "load module");
        assert_eq!(
            load.target,
            Target::Nodes(vec![1, 0]),
            "steps keep the given node order"
        );
        assert_eq!(load.timeout, Duration::from_secs(30));
        assert_eq!(load.expect_rc, 1);
        assert!(
            load.expect[0].is_match("insmod\nloaded\n"),
            "regexes are multi-line"
        );
        assert!(load.parallel);
        assert_eq!(s.steps[1].name, "step 2");
        assert_eq!(s.steps[1].target, Target::Nodes(vec![1]));
    }

    #[test]
    fn unknown_keys_are_rejected_naming_the_file_and_key() {
        let e = error("nodes = 1\nmemory = 512\n");
        assert!(e.contains("tests/cluster/example.toml"), "{e}");
        assert!(e.contains("memory"), "{e}");
        let e = error("[[step]]\nrun = 'true'\ntimout = 5\n");
        assert!(e.contains("timout"), "{e}");
        let e = error("[[device]]\nkind = 'nvme'\nsize = 5\n");
        assert!(e.contains("size"), "{e}");
    }

    #[test]
    fn qemu_devices_take_any_model_with_a_disk_or_a_segment() {
        let s = parse(
            r#"
            nodes = 2
            [[device]]
            kind = "e1000e"
            [[device]]
            kind = "qemu"
            nodes = [0]
            size_mib = 32
            qemu_device = ["ich9-ahci,id=ahci{k}", "ide-hd,bus=ahci{k}.0,drive={drive}"]
            [[device]]
            kind = "qemu"
            qemu_device = ["virtio-net-pci,netdev={netdev},mac={mac}"]
            "#,
        )
        .unwrap();
        assert_eq!(
            s.devices[1].kind,
            DeviceKind::Qemu {
                devices: vec![
                    "ich9-ahci,id=ahci{k}".into(),
                    "ide-hd,bus=ahci{k}.0,drive={drive}".into()
                ],
                size_mib: Some(32),
                net: None
            }
        );
        assert_eq!(
            (s.devices[1].index, s.devices[2].index),
            (0, 1),
            "numbered among qemu devices"
        );
        assert_eq!(
            s.devices[2].kind,
            DeviceKind::Qemu {
                devices: vec!["virtio-net-pci,netdev={netdev},mac={mac}".into()],
                size_mib: None,
                net: Some(1)
            },
            "segments are numbered with the NICs'"
        );
    }

    #[test]
    fn qemu_devices_are_checked() {
        let e = error("[[device]]\nkind = 'qemu'\n");
        assert!(e.contains("needs `qemu_device`"), "{e}");
        let e = error("[[device]]\nkind = 'qemu'\nqemu_device = ['virtio-blk-pci,drive={disk}']\nsize_mib = 8\n");
        assert!(
            e.contains("unknown placeholder") && e.contains("{disk}"),
            "{e}"
        );
        let e =
            error("[[device]]\nkind = 'qemu'\nqemu_device = ['virtio-blk-pci,drive={drive}']\n");
        assert!(
            e.contains("`size_mib` and a {drive} placeholder go together"),
            "{e}"
        );
        let e = error("[[device]]\nkind = 'qemu'\nqemu_device = ['edu']\nsize_mib = 8\n");
        assert!(e.contains("go together"), "{e}");
        let e = error("[[device]]\nkind = 'qemu'\nqemu_device = ['edu', 'a b']\n");
        assert!(e.contains("whitespace"), "{e}");
        let e = error("[[device]]\nkind = 'nvme'\nqemu_device = ['edu']\n");
        assert!(e.contains("for kind \"qemu\" only"), "{e}");
    }

    #[test]
    fn unknown_device_kinds_are_rejected() {
        let e = error("[[device]]\nkind = 'virtio-blk'\n");
        assert!(e.contains("virtio-blk") && e.contains("nvme"), "{e}");
    }

    #[test]
    fn node_counts_are_limited_to_one_to_four() {
        assert!(error("nodes = 0\n").contains("nodes = 0 is out of range 1..=4"));
        assert!(error("nodes = 5\n").contains("nodes = 5 is out of range 1..=4"));
        assert!(parse("nodes = 4\n").is_ok());
    }

    #[test]
    fn memory_is_limited() {
        assert!(error("memory_mib = 128\n").contains("memory_mib = 128 is out of range 256..=1024"));
        assert!(error("memory_mib = 2048\n").contains("out of range"));
    }

    #[test]
    fn steps_may_only_name_existing_nodes() {
        let e = error("nodes = 2\n[[step]]\nnodes = [0, 2]\nrun = 'true'\n");
        assert!(e.contains("step 1"), "{e}");
        assert!(
            e.contains("node 2 does not exist (the scenario has 2 nodes: 0..=1)"),
            "{e}"
        );
        let e = error("nodes = 2\n[[step]]\nname = 'x'\nnode = 7\nrun = 'true'\n");
        assert!(
            e.contains("step 1 (\"x\")") && e.contains("node 7 does not exist"),
            "{e}"
        );
    }

    #[test]
    fn steps_reject_duplicate_empty_or_doubly_given_nodes() {
        let e = error("nodes = 2\n[[step]]\nnodes = [1, 1]\nrun = 'true'\n");
        assert!(e.contains("node 1 is listed twice"), "{e}");
        let e = error("[[step]]\nnodes = []\nrun = 'true'\n");
        assert!(e.contains("the node list is empty"), "{e}");
        let e = error("[[step]]\nnode = 0\nnodes = [0]\nrun = 'true'\n");
        assert!(e.contains("either `node` or `nodes`"), "{e}");
    }

    #[test]
    fn devices_may_only_name_existing_nodes() {
        let e = error("nodes = 2\n[[device]]\nkind = 'e1000e'\nnodes = [3]\n");
        assert!(
            e.contains("device 1") && e.contains("node 3 does not exist"),
            "{e}"
        );
    }

    #[test]
    fn size_is_for_nvme_only() {
        let e = error("[[device]]\nkind = 'e1000e'\nsize_mib = 8\n");
        assert!(
            e.contains("`size_mib` and `cmb_mib` are for nvme only"),
            "{e}"
        );
        let e = error("[[device]]\nkind = 'nvme'\nsize_mib = 0\n");
        assert!(e.contains("size_mib = 0 is out of range"), "{e}");
    }

    #[test]
    fn nvme_devices_may_have_namespaces_of_their_own() {
        let s = parse(
            r#"
            nodes = 2
            [[device]]
            kind = "nvme"
            nodes = [0]
            namespaces = 2
            size_mib = 32
            cmb_mib = 1
            [[device]]
            kind = "nvme"
            namespaces = 8
            "#,
        )
        .unwrap();
        assert_eq!(
            s.devices[0].kind,
            DeviceKind::Nvme {
                size_mib: 32,
                cmb_mib: 1,
                namespaces: Some(2)
            },
            "each namespace's image has size_mib"
        );
        assert_eq!(
            s.devices[1].kind,
            DeviceKind::Nvme {
                size_mib: 64,
                cmb_mib: 0,
                namespaces: Some(8)
            }
        );
        assert_eq!(s.devices[1].index, 1);
    }

    #[test]
    fn namespaces_are_1_to_8_and_for_nvme_only() {
        for bad in [0, 9] {
            let e = error(&format!("[[device]]\nkind = 'nvme'\nnamespaces = {bad}\n"));
            assert!(
                e.contains("device 1")
                    && e.contains(&format!("namespaces = {bad} is out of range 1..=8")),
                "{e}"
            );
        }
        let e = error("[[device]]\nkind = 'nvme'\nnamespaces = -1\n");
        assert!(e.contains("namespaces"), "{e}");
        for kind in ["e1000e", "igb"] {
            let e = error(&format!("[[device]]\nkind = '{kind}'\nnamespaces = 2\n"));
            assert!(e.contains("`namespaces` is for nvme only"), "{kind}: {e}");
        }
        let e = error("[[device]]\nkind = 'qemu'\nqemu_device = ['edu']\nnamespaces = 2\n");
        assert!(e.contains("`namespaces` is for nvme only"), "{e}");
    }

    #[test]
    fn bad_regexes_are_rejected_naming_the_key_and_pattern() {
        let e = error("[[step]]\nrun = 'true'\nexpect = ['ok', '(unclosed']\n");
        assert!(e.contains("bad regex in `expect`: \"(unclosed\""), "{e}");
        let e = error("[[step]]\nrun = 'true'\nreject = ['[z-a]']\n");
        assert!(e.contains("bad regex in `reject`"), "{e}");
        let e = error("console_reject = ['*']\n");
        assert!(e.contains("bad regex in `console_reject`"), "{e}");
    }

    #[test]
    fn steps_need_a_script_and_sane_numbers() {
        assert!(error("[[step]]\nname = 'x'\n").contains("run"));
        assert!(error("[[step]]\nrun = '  '\n").contains("`run` is empty"));
        assert!(error("[[step]]\nrun = 'true'\ntimeout = 0\n").contains("timeout"));
        assert!(error("[[step]]\nrun = 'true'\nexpect_rc = 256\n").contains("expect_rc"));
        assert!(error("boot_timeout = 0\n").contains("boot_timeout"));
    }

    #[test]
    fn names_must_be_safe_in_paths() {
        assert!(error("name = '../etc'\n").contains("must be 1 to 48 characters"));
        assert!(error("name = ''\n").contains("must be"));
        assert!(parse("name = 'nvme-io_2.x'\n").is_ok());
    }

    #[test]
    fn syntax_errors_name_the_file() {
        let e = error("nodes = \n");
        assert!(
            e.contains("tests/cluster/example.toml: not a valid scenario"),
            "{e}"
        );
    }

    #[test]
    fn a_scenario_without_steps_only_boots() {
        assert!(parse("nodes = 2\n").unwrap().steps.is_empty());
    }

    #[test]
    fn a_fabric_table_puts_the_nodes_on_the_emulated_fabric() {
        let s = parse("nodes = 2\n[fabric]\n").unwrap();
        assert_eq!(
            s.fabric,
            Some(Fabric::default()),
            "an empty table takes every default"
        );
        let s = parse(
            r#"
            nodes = 3
            [fabric]
            multicast = [[2, 0], [1]]
            lut_slots = 16
            slot_shift = 20
            in_windows = 8
            dma_channels = 1
            direct_alias = false
            "#,
        )
        .unwrap();
        assert_eq!(
            s.fabric,
            Some(Fabric {
                multicast: vec![vec![0, 2], vec![1]],
                lut_slots: Some(16),
                slot_shift: Some(20),
                in_windows: Some(8),
                dma_channels: Some(1),
                direct_alias: false,
                dma_read_max: None,
            }),
            "multicast members are sorted"
        );
    }

    #[test]
    fn the_fabric_needs_two_nodes_and_the_adapters_limits() {
        let e = error("[fabric]\n");
        assert!(
            e.contains("[fabric]: the fabric needs 2..=4 nodes, the scenario has 1"),
            "{e}"
        );
        for (key, bad) in [
            ("lut_slots", "0"),
            ("lut_slots", "257"),
            ("slot_shift", "11"),
            ("slot_shift", "31"),
            ("in_windows", "0"),
            ("in_windows", "65"),
            ("dma_channels", "5"),
        ] {
            let e = error(&format!("nodes = 2\n[fabric]\n{key} = {bad}\n"));
            assert!(e.contains(&format!("{key} = {bad} is out of range")), "{e}");
        }
        assert!(parse("nodes = 2\n[fabric]\ndma_channels = 0\n").is_ok());
    }

    #[test]
    fn multicast_groups_name_existing_nodes_once_each() {
        let e = error("nodes = 2\n[fabric]\nmulticast = [[0, 2]]\n");
        assert!(
            e.contains("multicast group 0") && e.contains("node 2 does not exist"),
            "{e}"
        );
        let e = error("nodes = 2\n[fabric]\nmulticast = [[0], [1, 1]]\n");
        assert!(
            e.contains("multicast group 1") && e.contains("node 1 is listed twice"),
            "{e}"
        );
        let e = error("nodes = 2\n[fabric]\nmulticast = [[]]\n");
        assert!(e.contains("the node list is empty"), "{e}");
        let e = error(
            "nodes = 2\n[fabric]\nmulticast = [[0], [0], [0], [0], [0], [0], [0], [0], [0]]\n",
        );
        assert!(e.contains("at most 8 multicast groups, not 9"), "{e}");
        let e = error("nodes = 2\n[fabric]\nmulticast_groups = 1\n");
        assert!(
            e.contains("multicast_groups"),
            "unknown keys are errors: {e}"
        );
    }

    #[test]
    fn a_host_step_runs_once_on_the_host() {
        let s = parse(
            r#"
            nodes = 2
            [[step]]
            name = "link down"
            host = "rsio-fabric ctl link-down 1"
            timeout = 5
            expect = ['"ok"']
            "#,
        )
        .unwrap();
        let step = &s.steps[0];
        assert_eq!(step.target, Target::Host);
        assert!(step.nodes().is_empty());
        assert_eq!(step.run, "rsio-fabric ctl link-down 1");
        assert_eq!(step.timeout, Duration::from_secs(5));
        assert_eq!(step.expect.len(), 1);
        assert!(!step.parallel);
    }

    #[test]
    fn a_step_has_either_a_guest_or_a_host_script() {
        let e = error("[[step]]\nrun = 'true'\nhost = 'true'\n");
        assert!(e.contains("only one of `run`, `host` and `kill`"), "{e}");
        let e = error("nodes = 2\n[[step]]\nhost = 'true'\nkill = 1\n");
        assert!(e.contains("only one of `run`, `host` and `kill`"), "{e}");
        let e = error("[[step]]\nname = 'x'\n");
        assert!(
            e.contains(
                "give `run` (a script for the nodes), `host` (a script for the host) or `kill`"
            ),
            "{e}"
        );
        assert!(error("[[step]]\nhost = ' '\n").contains("`host` is empty"));
        for placement in ["node = 0", "nodes = [0]", "parallel = false"] {
            let e = error(&format!("[[step]]\nhost = 'true'\n{placement}\n"));
            assert!(e.contains("are for `run` steps"), "{placement}: {e}");
        }
    }

    #[test]
    fn a_kill_step_takes_its_node_out_of_the_rest_of_the_scenario() {
        let s = parse(
            r#"
            nodes = 3
            [[step]]
            run = "true"
            [[step]]
            name = "node 1 dies"
            kill = 1
            [[step]]
            run = "true"
            [[step]]
            nodes = [2, 0]
            parallel = true
            run = "true"
            "#,
        )
        .unwrap();
        assert_eq!(s.steps[0].target, Target::Nodes(vec![0, 1, 2]));
        assert_eq!(s.steps[1].name, "node 1 dies");
        assert_eq!(s.steps[1].target, Target::Kill(1));
        assert!(s.steps[1].nodes().is_empty(), "a kill step runs no script");
        assert_eq!(
            s.steps[2].target,
            Target::Nodes(vec![0, 2]),
            "steps without a node list run on the nodes still alive"
        );
        assert_eq!(s.steps[3].target, Target::Nodes(vec![2, 0]));
    }

    #[test]
    fn a_killed_node_cannot_be_named_again() {
        let e = error("nodes = 2\n[[step]]\nkill = 1\n[[step]]\nnode = 1\nrun = 'true'\n");
        assert!(
            e.contains("step 2") && e.contains("node 1 was killed by step 1"),
            "{e}"
        );
        let e = error("nodes = 2\n[[step]]\nkill = 0\n[[step]]\nnodes = [1, 0]\nrun = 'x'\n");
        assert!(e.contains("node 0 was killed by step 1"), "{e}");
        let e = error("nodes = 2\n[[step]]\nkill = 1\n[[step]]\nkill = 1\n");
        assert!(
            e.contains("step 2") && e.contains("node 1 was killed by step 1"),
            "{e}"
        );
        let e = error("nodes = 2\n[[step]]\nkill = 2\n");
        assert!(e.contains("node 2 does not exist"), "{e}");
    }

    #[test]
    fn when_every_node_is_killed_no_guest_step_may_follow() {
        let s =
            parse("nodes = 2\n[[step]]\nkill = 0\n[[step]]\nkill = 1\n[[step]]\nhost = 'true'\n")
                .unwrap();
        assert_eq!(s.steps.len(), 3, "host steps still run");
        let e = error("nodes = 2\n[[step]]\nkill = 0\n[[step]]\nkill = 1\n[[step]]\nrun = 'x'\n");
        assert!(
            e.contains("step 3") && e.contains("every node has been killed by now"),
            "{e}"
        );
    }

    #[test]
    fn a_kill_step_takes_nothing_but_a_name() {
        for key in [
            "node = 1",
            "nodes = [1]",
            "parallel = true",
            "timeout = 5",
            "expect_rc = 0",
            "expect = ['x']",
            "reject = ['x']",
        ] {
            let e = error(&format!("nodes = 2\n[[step]]\nkill = 1\n{key}\n"));
            assert!(
                e.contains("a `kill` step takes only a `name`"),
                "{key}: {e}"
            );
        }
    }

    const CHASSIS: &str = r#"
        nodes = 3
        chassis = [2]
        [fabric]
        [[device]]
        kind = "nvme"
        nodes = [2]
        [[device]]
        kind = "e1000e"
        [[device]]
        kind = "igb"
        nodes = [0, 2]
        [[step]]
        run = "true"
        [[step]]
        run = "true"
        parallel = true
        [[step]]
        host = "true"
        "#;

    #[test]
    fn an_expansion_chassis_is_a_fabric_node_without_steps() {
        let s = parse(CHASSIS).unwrap();
        assert_eq!(s.nodes, 3, "nodes counts the chassis");
        assert_eq!(s.chassis, [2]);
        assert!(s.is_chassis(2) && !s.is_chassis(0));
        assert_eq!(s.devices[0].nodes, [2]);
        assert_eq!(
            s.devices[1].nodes,
            [0, 1],
            "a device without `nodes` goes to every node but the chassis"
        );
        assert_eq!(s.devices[2].nodes, [0, 2]);
        assert_eq!(
            s.chassis_devices(2)
                .iter()
                .map(|d| &d.kind)
                .collect::<Vec<_>>(),
            [&s.devices[0].kind, &s.devices[2].kind],
            "in scenario order: the port order"
        );
        assert_eq!(s.chassis_slots, None);
        assert_eq!(s.chassis_slots(2), 4, "its 2 devices + 2 spare ports");
        assert_eq!(s.steps[0].target, Target::Nodes(vec![0, 1]));
        assert_eq!(
            s.steps[1].target,
            Target::Nodes(vec![0, 1]),
            "parallel over every node: every node but the chassis"
        );
        assert_eq!(s.steps[2].target, Target::Host);

        let s = parse(&format!("chassis_slots = 8\n{CHASSIS}")).unwrap();
        assert_eq!((s.chassis_slots, s.chassis_slots(2)), (Some(8), 8));
        let s = parse("nodes = 4\nchassis = [3, 1]\n[fabric]\n").unwrap();
        assert_eq!(s.chassis, [1, 3], "sorted");
        assert_eq!(s.chassis_slots(1), 2, "no devices: 2 spare ports");
    }

    #[test]
    fn a_chassis_needs_the_fabric_and_an_os_node_beside_it() {
        let e = error("nodes = 2\nchassis = [1]\n");
        assert!(
            e.contains(
                "chassis: an expansion chassis is a fabric node; the scenario needs a [fabric]"
            ),
            "{e}"
        );
        let e = error("nodes = 2\nchassis = [0, 1]\n[fabric]\n");
        assert!(
            e.contains("every node is an expansion chassis; at least one node must run an OS"),
            "{e}"
        );
        let e = error("nodes = 2\nchassis = [2]\n[fabric]\n");
        assert!(e.contains("chassis: node 2 does not exist"), "{e}");
        let e = error("nodes = 3\nchassis = [1, 1]\n[fabric]\n");
        assert!(e.contains("chassis: node 1 is listed twice"), "{e}");
        let e = error("nodes = 2\nchassis = [1]\niommu = [1]\n[fabric]\n");
        assert!(e.contains("iommu: node 1 is an expansion chassis"), "{e}");
    }

    #[test]
    fn steps_may_not_target_a_chassis() {
        let base = "nodes = 3\nchassis = [2]\n[fabric]\n[[step]]\nname = 'x'\n";
        for target in [
            "node = 2\nrun = 'true'",
            "nodes = [0, 2]\nrun = 'true'",
            "nodes = [2]\nparallel = true\nrun = 'true'",
            "kill = 2",
        ] {
            let e = error(&format!("{base}{target}\n"));
            assert!(
                e.contains("step 1 (\"x\")")
                    && e.contains(
                        "node 2 is an expansion chassis (it runs no OS): no step runs on it or \
                         kills it"
                    ),
                "{target}: {e}"
            );
        }
        let e = error(&format!(
            "{base}kill = 0\n[[step]]\nkill = 1\n[[step]]\nrun = 'true'\n"
        ));
        assert!(
            e.contains("step 3") && e.contains("every node has been killed by now"),
            "the chassis does not count as alive: {e}"
        );
    }

    #[test]
    fn chassis_slots_are_1_to_24_and_hold_the_chassis_devices() {
        let base = "nodes = 2\nchassis = [1]\n[fabric]\n";
        for bad in [0, 25] {
            let e = error(&format!("chassis_slots = {bad}\n{base}"));
            assert!(
                e.contains(&format!("chassis_slots = {bad} is out of range 1..=24")),
                "{e}"
            );
        }
        let e = error(&format!(
            "chassis_slots = 1\n{base}[[device]]\nkind = 'nvme'\nnodes = [1]\n\
             [[device]]\nkind = 'e1000e'\nnodes = [1]\n"
        ));
        assert!(
            e.contains("chassis node 1 has 2 devices, more than its chassis_slots = 1 root ports"),
            "{e}"
        );
        let e = error("nodes = 2\nchassis_slots = 4\n[fabric]\n");
        assert!(
            e.contains("chassis_slots is for expansion chassis; the scenario has none"),
            "{e}"
        );
        let devices = |n: usize| "[[device]]\nkind = 'nvme'\nnodes = [1]\n".repeat(n);
        let e = error(&format!("{base}{}", devices(25)));
        assert!(
            e.contains("chassis node 1 has 25 devices, more than the 24 root ports of a chassis"),
            "{e}"
        );
        let s = parse(&format!("{base}{}", devices(23))).unwrap();
        assert_eq!(s.chassis_slots(1), 24, "the spare ports stop at 24");
        let s = parse(&format!("chassis_slots = 24\n{base}{}", devices(24))).unwrap();
        assert_eq!(s.chassis_slots(1), 24);
    }

    #[test]
    fn a_qemu_device_on_a_chassis_leaves_the_bus_to_the_runner() {
        let base = "nodes = 2\nchassis = [1]\n[fabric]\n[[device]]\nkind = 'qemu'\n";
        let e = error(&format!(
            "{base}nodes = [1]\nqemu_device = ['pcie-pci-bridge,id=br{{k}},bus=pcie.0']\n"
        ));
        assert!(
            e.contains("on chassis node 1 the first `qemu_device` entry goes on its root port"),
            "{e}"
        );
        assert!(parse(&format!(
            "{base}nodes = [0]\nqemu_device = ['ich9-ahci,id=a{{k}},bus=pcie.0']\n"
        ))
        .is_ok());
        assert!(parse(&format!(
            "{base}nodes = [1]\nsize_mib = 8\n\
             qemu_device = ['ich9-ahci,id=a{{k}}', 'ide-hd,bus=a{{k}}.0,drive={{drive}}']\n"
        ))
        .is_ok());
    }
}
