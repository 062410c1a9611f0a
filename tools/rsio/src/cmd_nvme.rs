//! `rsio nvme share|unshare|list|attach|detach`: NVMe controllers shared
//! by several nodes (rsio_nvme_share, feature ioctls of /dev/rsio).

use crate::cmd_lend::{bdf_name, explained, parse_bdf, parse_fabric_device};
use crate::device::{Device, IoctlError};
use crate::format::{parse_node, parse_u32, ranges_1based, size_human, Align, Table};
use crate::{Ctx, Exit, UsageError};
use anyhow::Result;
use clap::{Args, Subcommand};
use rsio_uapi as uapi;
use rsio_uapi::nvme_share as abi;
use serde_json::{json, Value};

pub const LONG: &str = "\
NVMe controllers shared by several nodes without SR-IOV (rsio_nvme_share,
docs/nvme-share.md). A manager node owns the controller (`rsio nvme share`);
clients on any node, the manager's included, attach to it (`rsio nvme
attach`) and get a block device per namespace they may use, with I/O queue
pairs of their own in their own memory: nothing of the manager runs per I/O.

The commands use feature ioctls of /dev/rsio, served while rsio_nvme_share
is loaded (ENOTTY otherwise: the commands say so). `list` needs only access
to /dev/rsio; `share`, `unshare`, `attach` and `detach` need CAP_SYS_ADMIN.
`rsio nvme COMMAND --help` explains each command.";

pub const AFTER: &str = "\
EXAMPLES:
    node1# rsio nvme share 0000:00:04.0 --ns 2=assigned:2
    shared 0000:00:04.0 as controller 0x10001 (quota 4 queue pairs per client)
    node2# rsio nvme attach 1:0x10001
    attached to controller 0x10001 of node 1: attach 1, 4 queue pairs, disks rsio_nvme1_1n1 rsio_nvme1_1n2
    node2# rsio nvme list
    node2# rsio nvme detach 1:0x10001

EXIT STATUS:
    0   success
    1   the operation failed (the message names the errno and what it
        means here), or rsio_nvme_share is not loaded
    2   usage error";

pub const SHARE_LONG: &str = "\
Share a local NVMe controller (NVME_IOC_SHARE on /dev/rsio, served by
rsio_nvme_share; needs CAP_SYS_ADMIN). The nvme driver lets go of the
function, rsio_nvme_share takes the controller (reset, admin queue, every
I/O queue pair it offers) and announces it to every peer as controller
NODE:CTRL (ctrl = node << 16 | index), which `rsio nvme list` shows and
`rsio nvme attach` takes. `rsio nvme unshare` gives it back.

Each namespace gets a policy, fixed while it is shared (--ns NSID=POLICY,
at most 16; a namespace not named is shared):

  shared          every attached node gets a disk
  shared,ro       every attached node gets a read-only disk
  assigned:N      only node N gets a disk (an explicit --ns elsewhere: EACCES)
  assigned:N,ro   only node N, read-only

Shared-disk semantics: one set of blocks and no cache coherence between
nodes. Each node's page cache is its own, so a local file system mounted on
two nodes is corrupted: use O_DIRECT I/O, a cluster file system, or regions
per node. A flush drains the controller's volatile cache for everyone.

Trust: the policies are enforced by the clients' kernels, not by the
controller (NVMe has no per-queue access control, and all doorbells share
one page): every attached client's kernel is trusted with the whole
controller, as a borrower's kernel is with a borrowed device.

--qpairs-per-client N (1 to 16, default 4) is the quota of I/O queue pairs
one client may hold. A controller this node uses (a block device of it open
or mounted) is refused (EBUSY); --force shares it anyway: its block devices
here vanish as on a surprise removal.";

pub const SHARE_AFTER: &str = "\
EXAMPLES:
    node1# rsio nvme share 0000:00:04.0 --ns 1=shared --ns 2=assigned:0,ro
    shared 0000:00:04.0 as controller 0x10001 (quota 4 queue pairs per client)
    rsio: warning: every attached client's kernel is trusted with the whole controller (the namespace policies bind only clients running rsio_nvme_share; docs/nvme-share.md section 4)

EXIT STATUS:
    0   the controller is shared
    1   it could not be shared: no such function (ENODEV), not an NVMe
        controller, a bad policy or a namespace it lacks (EINVAL), not root
        or the rsio adapter (EPERM), already shared or in use here without
        --force (EBUSY), borrowed or not drivable (EOPNOTSUPP), it did not
        come up (EIO), or rsio_nvme_share is not loaded (ENOTTY)
    2   usage error (not a PCI address, a bad --ns policy)";

pub const UNSHARE_LONG: &str = "\
Stop sharing a controller (NVME_IOC_UNSHARE on /dev/rsio; needs
CAP_SYS_ADMIN): it is disabled and given back to the nvme driver. A
controller clients are attached to is refused (EBUSY) unless --force, which
revokes it from them first: their disks fail I/O.";

pub const UNSHARE_AFTER: &str = "\
EXAMPLES:
    node1# rsio nvme unshare 00:04.0
    stopped sharing 0000:00:04.0 (controller 0x10001)

EXIT STATUS:
    0   the controller is back with the nvme driver
    1   it is not shared (ENOENT), clients are attached and --force was not
        given (EBUSY), not root (EPERM), or rsio_nvme_share is not loaded
    2   usage error (not a PCI address)";

pub const LIST_LONG: &str = "\
List the shared NVMe controllers this node manages or its peers announced
(NVME_IOC_LIST), their namespaces (NVME_IOC_LIST_NS) and the attachments
(NVME_IOC_LIST_CLIENTS): the manager lists every client of its controllers,
other nodes their own attachments. Three tables:

Controllers: NODE the manager; CTRL its fabric name; BDF the function on
the manager; MODEL, SERIAL; STATE ready, resetting, failed or gone (its
manager went away); GEN the reset generation; QPAIRS the I/O queue pairs,
total/free; QUOTA queue pairs one client may hold; CLIENTS attached (on
other nodes than the manager: 0 or 1); FLAGS managed (here), attached
(here), iommu (the manager confines the controller's DMA to its clients'
memory); BAD/REFUSED fabric requests for it that were malformed / refused.

Namespaces: CTRL, NSID; SIZE and BYTES its capacity; LBA the logical block
size; POLICY shared or assigned:N, with ,ro when read-only; ACCESS what this
node may do: rw, ro or none; DISK this node's block device for it.

Clients: CTRL; CLIENT the client node; ATTACH the attachment's id; QPAIRS
granted; QIDS the I/O queue ids; CREATED queue pairs the controller made for
it; VECTORS remote-interrupt vectors; COMPLETED requests (client side);
BAD-CQES completion entries ignored as stale or malformed.

--json prints {\"controllers\": [...], \"namespaces\": [...], \"clients\": [...]}
with every field. Needs only access to /dev/rsio.";

pub const LIST_AFTER: &str = "\
EXAMPLES:
    $ rsio nvme list
    NODE     CTRL  BDF           MODEL           SERIAL   STATE  GEN  QPAIRS  QUOTA  CLIENTS  FLAGS             BAD/REFUSED
       1  0x10001  0000:00:04.0  QEMU NVMe Ctrl  rsio1n0  ready    1   64/56      4        2  managed,attached          0/0

    CTRL     NSID  SIZE  BYTES     LBA  POLICY      ACCESS  DISK
    0x10001     1   64M  67108864  512  shared      rw      rsio_nvme1_1n1
    0x10001     2   64M  67108864  512  assigned:2  none    -

    CTRL     CLIENT  ATTACH  QPAIRS  QIDS  CREATED  VECTORS  COMPLETED  BAD-CQES
    0x10001       1       1       4  1-4         4        4       1520         0
    0x10001       2       2       4  5-8         4        4          0         0

    $ rsio nvme list --json | jq '.clients | length'
    2

EXIT STATUS:
    0   the lists were read
    1   rsio_nvme_share is not loaded (ENOTTY), the device cannot be
        opened, or an ioctl failed
    2   usage error";

pub const ATTACH_LONG: &str = "\
Attach this node to a shared controller (NVME_IOC_ATTACH on /dev/rsio;
needs CAP_SYS_ADMIN): its queue pairs are made in this node's memory and a
block device appears per namespace this node may use (or only --ns NSID),
named rsio_nvme<NODE>_<INDEX>n<NSID> (partitions p1...). The command prints
the attachment's id, the queue pairs granted and the disks.

The controller is named NODE:CTRL as `rsio nvme list` shows it (CTRL in hex
with 0x, or decimal; a bare index 1 means node << 16 | 1). --qpairs N asks
for N queue pairs (default: the controller's quota per client); --ro makes
the disks read-only. The attachment lasts until `rsio nvme detach` or the
module's unload; if the manager dies, its disks fail I/O until it comes
back with the same drive.";

pub const ATTACH_AFTER: &str = "\
EXAMPLES:
    node2# rsio nvme attach 1:0x10001 --qpairs 2
    attached to controller 0x10001 of node 1: attach 3, 2 queue pairs, disks rsio_nvme1_1n1

EXIT STATUS:
    0   attached
    1   it could not attach: no such controller or namespace (ENOENT), the
        manager is not up (EHOSTUNREACH) or did not answer (ETIMEDOUT,
        ECONNRESET), attached already (EBUSY), more queue pairs than the
        quota (EDQUOT), not enough free queue pairs or vectors (ENOSPC),
        the namespace is assigned elsewhere (EACCES), resetting (EAGAIN),
        this node's memory out of the controller's reach (EOPNOTSUPP), not
        root (EPERM), or rsio_nvme_share is not loaded (ENOTTY)
    2   usage error";

pub const DETACH_LONG: &str = "\
Detach this node from a shared controller (NVME_IOC_DETACH on /dev/rsio;
needs CAP_SYS_ADMIN): its disks go, then its queues. A disk that is open or
mounted is refused (EBUSY) unless --force: its I/O then fails.";

pub const DETACH_AFTER: &str = "\
EXAMPLES:
    node2# rsio nvme detach 1:0x10001
    detached from controller 0x10001 of node 1

EXIT STATUS:
    0   detached
    1   this node is not attached to it (ENOENT), a disk of it is in use
        and --force was not given (EBUSY), not root (EPERM), or
        rsio_nvme_share is not loaded (ENOTTY)
    2   usage error";

/// The one-line warning `rsio nvme share` prints (docs/nvme-share.md,
/// section 4).
pub const TRUST_WARNING: &str = "every attached client's kernel is trusted with the whole \
     controller (the namespace policies bind only clients running rsio_nvme_share; \
     docs/nvme-share.md section 4)";

/// What an ENOTTY from /dev/rsio means for these commands.
const NOT_LOADED: &str = "rsio_nvme_share is not loaded (modprobe rsio_nvme_share)";

/// `rsio nvme ...`.
#[derive(Subcommand)]
pub enum NvmeCmd {
    /// Share a local NVMe controller with the fabric (root).
    #[command(long_about = SHARE_LONG, after_long_help = SHARE_AFTER)]
    Share(ShareArgs),
    /// Stop sharing a controller: it goes back to the nvme driver (root).
    #[command(long_about = UNSHARE_LONG, after_long_help = UNSHARE_AFTER)]
    Unshare(UnshareArgs),
    /// List shared controllers, their namespaces and the attachments.
    #[command(long_about = LIST_LONG, after_long_help = LIST_AFTER)]
    List,
    /// Attach this node to a shared controller: disks appear (root).
    #[command(long_about = ATTACH_LONG, after_long_help = ATTACH_AFTER)]
    Attach(AttachArgs),
    /// Detach this node from a shared controller: its disks go (root).
    #[command(long_about = DETACH_LONG, after_long_help = DETACH_AFTER)]
    Detach(DetachArgs),
}

impl NvmeCmd {
    /// The subcommand's name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            NvmeCmd::Share(_) => "share",
            NvmeCmd::Unshare(_) => "unshare",
            NvmeCmd::List => "list",
            NvmeCmd::Attach(_) => "attach",
            NvmeCmd::Detach(_) => "detach",
        }
    }
}

/// The arguments of `rsio nvme share`.
#[derive(Args)]
pub struct ShareArgs {
    /// The NVMe function: [DOMAIN:]BUS:DEVICE.FUNCTION (hexadecimal).
    #[arg(value_parser = parse_bdf)]
    pub bdf: (u32, u32, u32),
    /// A namespace's policy: NSID=shared, shared,ro, assigned:N or assigned:N,ro.
    #[arg(long = "ns", value_name = "NSID=POLICY", value_parser = parse_ns_policy)]
    pub ns: Vec<abi::NvmePolicy>,
    /// I/O queue pairs one client may hold (default 4).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=(abi::NVME_MAX_CLIENT_QPAIRS as i64)))]
    pub qpairs_per_client: Option<u32>,
    /// Share it even though this node uses it (a block device open or mounted).
    #[arg(long)]
    pub force: bool,
}

/// The arguments of `rsio nvme unshare`.
#[derive(Args)]
pub struct UnshareArgs {
    /// The NVMe function: [DOMAIN:]BUS:DEVICE.FUNCTION (hexadecimal).
    #[arg(value_parser = parse_bdf)]
    pub bdf: (u32, u32, u32),
    /// Revoke it from the attached clients first (their disks fail I/O).
    #[arg(long)]
    pub force: bool,
}

/// The arguments of `rsio nvme attach`.
#[derive(Args)]
pub struct AttachArgs {
    /// The controller: NODE:CTRL (CTRL in hex with 0x, or decimal).
    #[arg(value_name = "NODE:CTRL", value_parser = parse_ctrl)]
    pub target: (u32, u32),
    /// I/O queue pairs wanted (default: the controller's quota per client).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=(abi::NVME_MAX_CLIENT_QPAIRS as i64)))]
    pub qpairs: Option<u32>,
    /// Only this namespace (default: every one this node may use).
    #[arg(long, value_name = "NSID", value_parser = parse_nsid)]
    pub ns: Option<u32>,
    /// Read-only disks.
    #[arg(long)]
    pub ro: bool,
}

/// The arguments of `rsio nvme detach`.
#[derive(Args)]
pub struct DetachArgs {
    /// The controller: NODE:CTRL (CTRL in hex with 0x, or decimal).
    #[arg(value_name = "NODE:CTRL", value_parser = parse_ctrl)]
    pub target: (u32, u32),
    /// Detach even while a disk is open or mounted (its I/O fails).
    #[arg(long)]
    pub force: bool,
}

// --- Parsing.

/// Parses a namespace id (`1..`, decimal or `0x` hex).
pub fn parse_nsid(s: &str) -> Result<u32, String> {
    match parse_u32(s) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{s}` is not a namespace id (1 or more)")),
    }
}

/// Parses `NSID=POLICY`: `shared`, `shared,ro`, `assigned:N`, `assigned:N,ro`.
pub fn parse_ns_policy(s: &str) -> Result<abi::NvmePolicy, String> {
    let bad = || {
        format!("`{s}` is not NSID=POLICY (POLICY: shared, shared,ro, assigned:N or assigned:N,ro)")
    };
    let (nsid, policy) = s.split_once('=').ok_or_else(bad)?;
    let nsid = parse_nsid(nsid)?;
    let (policy, ro) = match policy.strip_suffix(",ro") {
        Some(p) => (p, true),
        None => (policy, false),
    };
    let (kind, node) = match policy.split_once(':') {
        None if policy == "shared" => (abi::NVME_POLICY_SHARED, 0),
        Some(("assigned", n)) => (abi::NVME_POLICY_ASSIGNED, parse_node(n)?),
        _ => return Err(bad()),
    };
    Ok(abi::NvmePolicy {
        nsid,
        kind,
        node,
        flags: if ro { abi::NVME_POLICY_RO } else { 0 },
    })
}

/// Parses `NODE:CTRL` as `rsio borrow` parses `NODE:FDID`: CTRL in `0x`
/// hex or decimal, a bare index meaning `node << 16 | index`.
pub fn parse_ctrl(s: &str) -> Result<(u32, u32), String> {
    let (node, ctrl) = parse_fabric_device(s).map_err(|e| {
        if e.starts_with('`') {
            format!("`{s}` is not a shared controller NODE:CTRL (e.g. 1:0x10001)")
        } else {
            e.replace("fabric device", "controller")
        }
    })?;
    if node >= uapi::RSIO_MAX_NODES {
        return Err(format!(
            "node {node} does not exist (node ids are 0..{})",
            uapi::RSIO_MAX_NODES - 1
        ));
    }
    Ok((node, ctrl))
}

/// The policy table of a share request: every `--ns` once, at most
/// [`abi::NVME_MAX_POLICIES`].
pub fn policy_table(
    ns: &[abi::NvmePolicy],
) -> Result<[abi::NvmePolicy; abi::NVME_MAX_POLICIES], String> {
    if ns.len() > abi::NVME_MAX_POLICIES {
        return Err(format!(
            "at most {} --ns policies, not {}",
            abi::NVME_MAX_POLICIES,
            ns.len()
        ));
    }
    let mut table = [abi::NvmePolicy::default(); abi::NVME_MAX_POLICIES];
    for (i, p) in ns.iter().enumerate() {
        if ns[..i].iter().any(|q| q.nsid == p.nsid) {
            return Err(format!("namespace {} has two --ns policies", p.nsid));
        }
        table[i] = *p;
    }
    Ok(table)
}

// --- Names.

/// `NVME_CTRL_*` states as `rsio nvme list` shows them.
pub fn state_name(state: u32) -> String {
    match state {
        abi::NVME_CTRL_READY => "ready".into(),
        abi::NVME_CTRL_RESETTING => "resetting".into(),
        abi::NVME_CTRL_FAILED => "failed".into(),
        abi::NVME_CTRL_GONE => "gone".into(),
        n => format!("unknown({n})"),
    }
}

/// The `NVME_CTRL_*` flags as words, unknown bits in hex.
pub fn flag_names(flags: u32) -> Vec<String> {
    let known = [
        (abi::NVME_CTRL_MANAGED_HERE, "managed"),
        (abi::NVME_CTRL_ATTACHED_HERE, "attached"),
        (abi::NVME_CTRL_IOMMU, "iommu"),
    ];
    let mut names: Vec<String> = known
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    let unknown = flags & !known.iter().fold(0, |a, (b, _)| a | b);
    if unknown != 0 {
        names.push(format!("unknown:{unknown:#x}"));
    }
    names
}

/// A policy as `--ns` takes it: `shared`, `assigned:N`, with `,ro`.
pub fn policy_text(kind: u32, node: u32, flags: u32) -> String {
    let base = match kind {
        abi::NVME_POLICY_SHARED => "shared".to_string(),
        abi::NVME_POLICY_ASSIGNED => format!("assigned:{node}"),
        k => format!("unknown({k})"),
    };
    if flags & abi::NVME_POLICY_RO != 0 {
        format!("{base},ro")
    } else {
        base
    }
}

/// `NVME_ACCESS_*` as `rsio nvme list` shows it.
pub fn access_name(access: u32) -> String {
    match access {
        abi::NVME_ACCESS_NONE => "none".into(),
        abi::NVME_ACCESS_RO => "ro".into(),
        abi::NVME_ACCESS_RW => "rw".into(),
        n => format!("unknown({n})"),
    }
}

/// A space-padded, unterminated ASCII field (serial, model), trimmed.
pub fn padded(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).trim().to_string()
}

/// The namespace's capacity in bytes.
fn ns_bytes(e: &abi::NvmeNsEntry) -> u64 {
    if e.lbads >= 64 {
        return u64::MAX;
    }
    e.nsze.saturating_mul(1u64 << e.lbads)
}

/// The qids of a client's `qids` mask (bit `q - 1`: queue pair `q`).
fn qids(mask: u64) -> Vec<u32> {
    (0..64)
        .filter(|b| mask & (1 << b) != 0)
        .map(|b| b + 1)
        .collect()
}

/// A cell that is `-` when empty.
fn or_dash(s: String) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}

// SAFETY: `NvmeCtrlEntry` is `repr(C)` of integers and byte arrays, and NVME_IOC_LIST lists `NvmeCtrlEntry` elements.
unsafe impl crate::device::ListEntry for abi::NvmeCtrlEntry {
    const CMD: u32 = abi::NVME_IOC_LIST;
    const NAME: &'static str = "NVME_IOC_LIST";
    const GUESS: u32 = 16;
}

// SAFETY: `NvmeNsEntry` is `repr(C)` of integers and a byte array, and NVME_IOC_LIST_NS lists `NvmeNsEntry` elements.
unsafe impl crate::device::ListEntry for abi::NvmeNsEntry {
    const CMD: u32 = abi::NVME_IOC_LIST_NS;
    const NAME: &'static str = "NVME_IOC_LIST_NS";
    const GUESS: u32 = 32;
}

// SAFETY: `NvmeClientEntry` is `repr(C)` of integers, and NVME_IOC_LIST_CLIENTS lists `NvmeClientEntry` elements.
unsafe impl crate::device::ListEntry for abi::NvmeClientEntry {
    const CMD: u32 = abi::NVME_IOC_LIST_CLIENTS;
    const NAME: &'static str = "NVME_IOC_LIST_CLIENTS";
    const GUESS: u32 = 32;
}

// --- Errors.

/// `e` with what its errno means for `what`; ENOTTY always says the module
/// is not loaded.
fn explain(e: &IoctlError, what: Op) -> String {
    let why = match (e.errno(), what) {
        (Some(libc::ENOTTY), _) => NOT_LOADED,
        (Some(libc::ENODEV), Op::Share | Op::Unshare) => "no such PCI function",
        (Some(libc::EPERM), Op::Share) => "not root, or it is the rsio adapter itself",
        (Some(libc::EPERM), _) => "not root",
        (Some(libc::EINVAL), Op::Share) => {
            "not an NVMe controller (class 010802), a policy or field out of range, or a \
             namespace the controller lacks"
        }
        (Some(libc::EBUSY), Op::Share) => {
            "already shared, or this node uses it (a block device of it open or mounted; \
             --force shares it anyway)"
        }
        (Some(libc::EOPNOTSUPP), Op::Share) => {
            "a borrowed function, a controller rsio_nvme_share cannot drive (page size, command \
             set), or no rsio adapter with a direct window"
        }
        (Some(libc::EIO), Op::Share) => "the controller did not come up (the kernel log says why)",
        (Some(libc::ENOSPC), Op::Share) => "no free controller index",
        (Some(libc::ENOENT), Op::Unshare) => "it is not shared",
        (Some(libc::EBUSY), Op::Unshare) => {
            "clients are attached (--force revokes it from them: their disks fail I/O)"
        }
        (Some(libc::EINVAL), Op::Attach | Op::Detach) => {
            "a field out of range (is CTRL node NODE's, as `rsio nvme list` shows it?)"
        }
        (Some(libc::EHOSTUNREACH), _) => "the manager is not up",
        (Some(libc::ETIMEDOUT) | Some(libc::ECONNRESET), _) => "the manager did not answer",
        (Some(libc::ENOENT), Op::Attach) => "no such shared controller, or no such namespace",
        (Some(libc::EBUSY), Op::Attach) => "this node is attached to it already",
        (Some(libc::EDQUOT), Op::Attach) => {
            "more queue pairs than the controller's quota per client (the QUOTA column of `rsio \
             nvme list`)"
        }
        (Some(libc::ENOSPC), Op::Attach) => {
            "not enough free queue pairs on the controller, or remote-interrupt vectors here"
        }
        (Some(libc::EACCES), Op::Attach) => "the namespace is assigned to another node",
        (Some(libc::EAGAIN), Op::Attach) => {
            "the controller is resetting, or this node's previous attachment is still being torn \
             down: try again"
        }
        (Some(libc::EOPNOTSUPP), Op::Attach) => {
            "this node's memory lies beyond what the controller reaches through the fabric"
        }
        (Some(libc::ENOENT), Op::Detach) => "this node is not attached to it",
        (Some(libc::EBUSY), Op::Detach) => {
            "a disk of it is open or mounted (--force detaches anyway: its I/O fails)"
        }
        _ => "",
    };
    explained(e, why)
}

/// Which command an error is explained for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Share,
    Unshare,
    List,
    Attach,
    Detach,
}

/// Every element of a listing ioctl; ENOTTY says the module is not loaded.
fn fetch<T: crate::device::ListEntry>(dev: &Device) -> Result<Vec<T>> {
    dev.list::<T>()
        .map_err(|e| match e.downcast_ref::<IoctlError>() {
            Some(ie) if ie.errno() == Some(libc::ENOTTY) => {
                anyhow::anyhow!("{}", explain(ie, Op::List))
            }
            _ => e,
        })
}

fn fail(what: String) -> anyhow::Error {
    eprintln!("rsio: {what}");
    Exit(1).into()
}

// --- The commands.

pub fn run(ctx: &Ctx, cmd: &NvmeCmd) -> Result<()> {
    match cmd {
        NvmeCmd::Share(a) => share(ctx, a),
        NvmeCmd::Unshare(a) => unshare(ctx, a),
        NvmeCmd::List => list(ctx),
        NvmeCmd::Attach(a) => attach(ctx, a),
        NvmeCmd::Detach(a) => detach(ctx, a),
    }
}

/// A share request for `bdf` (`UNSHARE`: no policies, no quota).
fn share_request(
    (domain, bus, devfn): (u32, u32, u32),
    flags: u32,
    qpairs_per_client: u32,
    ns: &[abi::NvmePolicy],
) -> Result<abi::NvmeShare, String> {
    Ok(abi::NvmeShare {
        header: uapi::ArgHeader {
            size: std::mem::size_of::<abi::NvmeShare>() as u32,
            flags,
        },
        domain,
        bus,
        devfn,
        qpairs_per_client,
        n_policies: ns.len() as u32,
        ctrl: 0,
        policies: policy_table(ns)?,
    })
}

/// The quota one client may hold when none is asked for (nvme_share.rs).
const DEFAULT_QUOTA: u32 = 4;

/// `rsio nvme share`.
pub fn share(ctx: &Ctx, args: &ShareArgs) -> Result<()> {
    let flags = if args.force { abi::NVME_SHARE_FORCE } else { 0 };
    let req = share_request(
        args.bdf,
        flags,
        args.qpairs_per_client.unwrap_or(0),
        &args.ns,
    )
    .map_err(UsageError)?;
    let dev = ctx.open()?;
    let (d, b, f) = args.bdf;
    let name = bdf_name(d, b, f);
    let out = dev
        .nvme_share(abi::NVME_IOC_SHARE, "NVME_IOC_SHARE", req)
        .map_err(|e| fail(format!("{name}: {}", explain(&e, Op::Share))))?;
    let ctrl = out.ctrl;
    // The quota the manager settled on, as its list shows it.
    let quota = dev
        .list::<abi::NvmeCtrlEntry>()
        .ok()
        .and_then(|l| l.iter().find(|e| e.ctrl == ctrl).map(|e| e.quota))
        .unwrap_or(args.qpairs_per_client.unwrap_or(DEFAULT_QUOTA));
    if ctx.json {
        println!(
            "{}",
            json!({ "bdf": name, "ctrl": ctrl, "quota": quota, "shared": true })
        );
    } else {
        println!("{}", share_line(&name, ctrl, quota));
    }
    eprintln!("rsio: warning: {TRUST_WARNING}");
    Ok(())
}

/// What `rsio nvme share` prints.
pub fn share_line(bdf: &str, ctrl: u32, quota: u32) -> String {
    format!("shared {bdf} as controller {ctrl:#x} (quota {quota} queue pairs per client)")
}

/// `rsio nvme unshare`.
pub fn unshare(ctx: &Ctx, args: &UnshareArgs) -> Result<()> {
    let flags = if args.force { abi::NVME_SHARE_FORCE } else { 0 };
    let req = share_request(args.bdf, flags, 0, &[]).map_err(UsageError)?;
    let dev = ctx.open()?;
    let (d, b, f) = args.bdf;
    let name = bdf_name(d, b, f);
    let out = dev
        .nvme_share(abi::NVME_IOC_UNSHARE, "NVME_IOC_UNSHARE", req)
        .map_err(|e| fail(format!("{name}: {}", explain(&e, Op::Unshare))))?;
    if ctx.json {
        println!(
            "{}",
            json!({ "bdf": name, "ctrl": out.ctrl, "shared": false })
        );
    } else if out.ctrl != 0 {
        println!("stopped sharing {name} (controller {:#x})", out.ctrl);
    } else {
        println!("stopped sharing {name}");
    }
    Ok(())
}

/// An attach or detach request.
fn attach_request((node, ctrl): (u32, u32), flags: u32, qpairs: u32, nsid: u32) -> abi::NvmeAttach {
    abi::NvmeAttach {
        header: uapi::ArgHeader {
            size: std::mem::size_of::<abi::NvmeAttach>() as u32,
            flags,
        },
        node,
        ctrl,
        qpairs,
        nsid,
        attach: 0,
        granted: 0,
        disks: 0,
        reserved: 0,
    }
}

/// This node's disks of controller `ctrl` (optionally only namespace `nsid`).
pub fn disks_of(nss: &[abi::NvmeNsEntry], ctrl: u32, nsid: Option<u32>) -> Vec<String> {
    nss.iter()
        .filter(|e| e.ctrl == ctrl && nsid.is_none_or(|n| e.nsid == n))
        .map(|e| crate::format::cstr(&e.disk))
        .filter(|d| !d.is_empty())
        .collect()
}

/// What `rsio nvme attach` prints (`disks`: None if they could not be
/// listed, then `count` says how many were made).
pub fn attach_line(a: &abi::NvmeAttach, disks: Option<&[String]>) -> String {
    let pairs = if a.granted == 1 {
        "1 queue pair".to_string()
    } else {
        format!("{} queue pairs", a.granted)
    };
    let disks = match disks {
        Some([]) => "no disks".to_string(),
        Some(d) => format!("disks {}", d.join(" ")),
        None => format!("{} disks", a.disks),
    };
    format!(
        "attached to controller {:#x} of node {}: attach {}, {pairs}, {disks}",
        a.ctrl, a.node, a.attach
    )
}

/// `rsio nvme attach`.
pub fn attach(ctx: &Ctx, args: &AttachArgs) -> Result<()> {
    let flags = if args.ro { abi::NVME_ATTACH_RO } else { 0 };
    let req = attach_request(
        args.target,
        flags,
        args.qpairs.unwrap_or(0),
        args.ns.unwrap_or(0),
    );
    let (node, ctrl) = args.target;
    let dev = ctx.open()?;
    let a = match dev.nvme_attach(abi::NVME_IOC_ATTACH, "NVME_IOC_ATTACH", req) {
        Ok(a) => a,
        Err(e) => {
            let mut msg = explain(&e, Op::Attach);
            if e.errno() == Some(libc::EDQUOT) {
                let quota = dev
                    .list::<abi::NvmeCtrlEntry>()
                    .ok()
                    .and_then(|l| l.iter().find(|c| c.ctrl == ctrl).map(|c| c.quota));
                if let Some(q) = quota {
                    msg.push_str(&format!(": the quota is {q}"));
                }
            }
            return Err(fail(format!("{node}:{ctrl:#x}: {msg}")));
        }
    };
    let disks = match fetch::<abi::NvmeNsEntry>(&dev) {
        Ok(nss) => Some(disks_of(&nss, ctrl, args.ns)),
        Err(e) => {
            eprintln!("rsio: warning: attached, but its disks cannot be listed: {e:#}");
            None
        }
    };
    if ctx.json {
        println!(
            "{}",
            json!({ "node": node, "ctrl": ctrl, "attach": a.attach, "granted": a.granted,
                    "disk_count": a.disks, "disks": disks })
        );
    } else {
        println!("{}", attach_line(&a, disks.as_deref()));
    }
    Ok(())
}

/// `rsio nvme detach`.
pub fn detach(ctx: &Ctx, args: &DetachArgs) -> Result<()> {
    let flags = if args.force {
        abi::NVME_DETACH_FORCE
    } else {
        0
    };
    let (node, ctrl) = args.target;
    let dev = ctx.open()?;
    dev.nvme_attach(
        abi::NVME_IOC_DETACH,
        "NVME_IOC_DETACH",
        attach_request(args.target, flags, 0, 0),
    )
    .map_err(|e| fail(format!("{node}:{ctrl:#x}: {}", explain(&e, Op::Detach))))?;
    if ctx.json {
        println!(
            "{}",
            json!({ "node": node, "ctrl": ctrl, "detached": true })
        );
    } else {
        println!("detached from controller {ctrl:#x} of node {node}");
    }
    Ok(())
}

/// `rsio nvme list`.
pub fn list(ctx: &Ctx) -> Result<()> {
    let dev = ctx.open()?;
    let ctrls = fetch::<abi::NvmeCtrlEntry>(&dev)?;
    let nss = fetch::<abi::NvmeNsEntry>(&dev)?;
    let clients = fetch::<abi::NvmeClientEntry>(&dev)?;
    if ctx.json {
        println!("{}", list_json(&ctrls, &nss, &clients));
    } else {
        print!("{}", list_text(&ctrls, &nss, &clients));
    }
    Ok(())
}

/// The three tables of `rsio nvme list`, a blank line apart.
pub fn list_text(
    ctrls: &[abi::NvmeCtrlEntry],
    nss: &[abi::NvmeNsEntry],
    clients: &[abi::NvmeClientEntry],
) -> String {
    let mut c = Table::new(&[
        ("NODE", Align::Right),
        ("CTRL", Align::Right),
        ("BDF", Align::Left),
        ("MODEL", Align::Left),
        ("SERIAL", Align::Left),
        ("STATE", Align::Left),
        ("GEN", Align::Right),
        ("QPAIRS", Align::Right),
        ("QUOTA", Align::Right),
        ("CLIENTS", Align::Right),
        ("FLAGS", Align::Left),
        ("BAD/REFUSED", Align::Right),
    ]);
    for e in ctrls {
        c.row(vec![
            e.node.to_string(),
            format!("{:#x}", e.ctrl),
            bdf_name(e.domain, e.bus, e.devfn),
            or_dash(padded(&e.model)),
            or_dash(padded(&e.serial)),
            state_name(e.state),
            e.generation.to_string(),
            format!("{}/{}", e.qpairs_total, e.qpairs_free),
            e.quota.to_string(),
            e.clients.to_string(),
            or_dash(flag_names(e.flags).join(",")),
            format!("{}/{}", e.msgs_bad, e.msgs_refused),
        ]);
    }
    let mut n = Table::new(&[
        ("CTRL", Align::Left),
        ("NSID", Align::Right),
        ("SIZE", Align::Right),
        ("BYTES", Align::Left),
        ("LBA", Align::Left),
        ("POLICY", Align::Left),
        ("ACCESS", Align::Left),
        ("DISK", Align::Left),
    ]);
    for e in nss {
        let bytes = ns_bytes(e);
        n.row(vec![
            format!("{:#x}", e.ctrl),
            e.nsid.to_string(),
            size_human(bytes),
            bytes.to_string(),
            lba_size(e.lbads).map_or("?".into(), |s| s.to_string()),
            policy_text(e.policy, e.policy_node, e.policy_flags),
            access_name(e.access),
            or_dash(crate::format::cstr(&e.disk)),
        ]);
    }
    let mut k = Table::new(&[
        ("CTRL", Align::Left),
        ("CLIENT", Align::Right),
        ("ATTACH", Align::Right),
        ("QPAIRS", Align::Right),
        ("QIDS", Align::Left),
        ("CREATED", Align::Right),
        ("VECTORS", Align::Right),
        ("COMPLETED", Align::Right),
        ("BAD-CQES", Align::Right),
    ]);
    for e in clients {
        k.row(vec![
            format!("{:#x}", e.ctrl),
            e.client.to_string(),
            e.attach.to_string(),
            e.qpairs.to_string(),
            ranges_1based(e.qids),
            e.created.to_string(),
            e.vectors.to_string(),
            e.completed.to_string(),
            e.bad_cqes.to_string(),
        ]);
    }
    format!("{}\n{}\n{}", c.render(), n.render(), k.render())
}

/// The logical block size of `lbads` (None if it is absurd).
fn lba_size(lbads: u32) -> Option<u64> {
    (lbads < 64).then(|| 1u64 << lbads)
}

/// One controller of `rsio nvme list --json`.
pub fn ctrl_json(e: &abi::NvmeCtrlEntry) -> Value {
    json!({
        "node": e.node,
        "ctrl": e.ctrl,
        "bdf": bdf_name(e.domain, e.bus, e.devfn),
        "domain": e.domain,
        "bus": e.bus,
        "devfn": e.devfn,
        "state": state_name(e.state),
        "flags": flag_names(e.flags),
        "generation": e.generation,
        "qpairs_total": e.qpairs_total,
        "qpairs_free": e.qpairs_free,
        "quota": e.quota,
        "namespaces": e.namespaces,
        "clients": e.clients,
        "msgs_bad": e.msgs_bad,
        "msgs_refused": e.msgs_refused,
        "serial": padded(&e.serial),
        "model": padded(&e.model),
    })
}

/// One namespace of `rsio nvme list --json`.
pub fn ns_json(e: &abi::NvmeNsEntry) -> Value {
    let disk = crate::format::cstr(&e.disk);
    json!({
        "ctrl": e.ctrl,
        "nsid": e.nsid,
        "nsze": e.nsze,
        "lbads": e.lbads,
        "lba_size": lba_size(e.lbads),
        "size": ns_bytes(e),
        "policy": policy_text(e.policy, e.policy_node, e.policy_flags),
        "policy_kind": match e.policy {
            abi::NVME_POLICY_SHARED => "shared".to_string(),
            abi::NVME_POLICY_ASSIGNED => "assigned".to_string(),
            k => format!("unknown({k})"),
        },
        "policy_node": (e.policy == abi::NVME_POLICY_ASSIGNED).then_some(e.policy_node),
        "read_only": e.policy_flags & abi::NVME_POLICY_RO != 0,
        "access": access_name(e.access),
        "disk": (!disk.is_empty()).then_some(disk),
    })
}

/// One attachment of `rsio nvme list --json`.
pub fn client_json(e: &abi::NvmeClientEntry) -> Value {
    json!({
        "ctrl": e.ctrl,
        "client": e.client,
        "attach": e.attach,
        "qpairs": e.qpairs,
        "qids": qids(e.qids),
        "created": e.created,
        "vectors": e.vectors,
        "completed": e.completed,
        "bad_cqes": e.bad_cqes,
    })
}

/// `rsio nvme list --json`.
pub fn list_json(
    ctrls: &[abi::NvmeCtrlEntry],
    nss: &[abi::NvmeNsEntry],
    clients: &[abi::NvmeClientEntry],
) -> Value {
    json!({
        "controllers": ctrls.iter().map(ctrl_json).collect::<Vec<_>>(),
        "namespaces": nss.iter().map(ns_json).collect::<Vec<_>>(),
        "clients": clients.iter().map(client_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn text(s: &str, len: usize) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.resize(len, b' ');
        v
    }

    fn ctrl() -> abi::NvmeCtrlEntry {
        abi::NvmeCtrlEntry {
            node: 1,
            ctrl: 0x10001,
            domain: 0,
            bus: 0,
            devfn: 4 << 3,
            state: abi::NVME_CTRL_READY,
            flags: abi::NVME_CTRL_MANAGED_HERE | abi::NVME_CTRL_ATTACHED_HERE,
            generation: 1,
            qpairs_total: 64,
            qpairs_free: 56,
            quota: 4,
            namespaces: 2,
            clients: 2,
            msgs_bad: 0,
            msgs_refused: 0,
            reserved: 0,
            serial: text("rsio1n0", abi::NVME_SERIAL_LEN).try_into().unwrap(),
            model: text("QEMU NVMe Ctrl", abi::NVME_MODEL_LEN)
                .try_into()
                .unwrap(),
        }
    }

    fn ns(nsid: u32, policy: u32, node: u32, access: u32, disk: &str) -> abi::NvmeNsEntry {
        let mut d = [0u8; abi::NVME_DISK_NAME_LEN];
        d[..disk.len()].copy_from_slice(disk.as_bytes());
        abi::NvmeNsEntry {
            ctrl: 0x10001,
            nsid,
            nsze: 131072,
            lbads: 9,
            policy,
            policy_node: node,
            policy_flags: 0,
            access,
            reserved: 0,
            disk: d,
        }
    }

    fn client(client: u32, attach: u32, qids: u64, completed: u64) -> abi::NvmeClientEntry {
        abi::NvmeClientEntry {
            ctrl: 0x10001,
            client,
            attach,
            qpairs: qids.count_ones(),
            qids,
            created: qids.count_ones(),
            vectors: 4,
            completed,
            bad_cqes: 0,
            reserved: 0,
        }
    }

    fn sample() -> (
        Vec<abi::NvmeCtrlEntry>,
        Vec<abi::NvmeNsEntry>,
        Vec<abi::NvmeClientEntry>,
    ) {
        (
            vec![ctrl()],
            vec![
                ns(
                    1,
                    abi::NVME_POLICY_SHARED,
                    0,
                    abi::NVME_ACCESS_RW,
                    "rsio_nvme1_1n1",
                ),
                ns(2, abi::NVME_POLICY_ASSIGNED, 2, abi::NVME_ACCESS_NONE, ""),
            ],
            vec![client(1, 1, 0xf, 1520), client(2, 2, 0xf0, 0)],
        )
    }

    #[test]
    fn policies_parse_as_the_docs_spell_them() {
        let p = |s: &str| parse_ns_policy(s);
        assert_eq!(
            p("1=shared"),
            Ok(abi::NvmePolicy {
                nsid: 1,
                kind: abi::NVME_POLICY_SHARED,
                node: 0,
                flags: 0
            })
        );
        assert_eq!(p("2=shared,ro").unwrap().flags, abi::NVME_POLICY_RO);
        let a = p("3=assigned:2").unwrap();
        assert_eq!((a.nsid, a.kind, a.node, a.flags), (3, 1, 2, 0));
        let a = p("0x4=assigned:15,ro").unwrap();
        assert_eq!((a.nsid, a.kind, a.node, a.flags), (4, 1, 15, 1));
        for bad in [
            "",
            "1",
            "=shared",
            "0=shared",
            "1=",
            "1=Shared",
            "1=shared,rw",
            "1=ro",
            "1=assigned",
            "1=assigned:",
            "1=assigned:16",
            "1=assigned:x",
            "1=shared:1",
            "x=shared",
            "1=shared,ro,ro",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_policy_table_takes_each_namespace_once_and_at_most_16() {
        let p = |s: &str| parse_ns_policy(s).unwrap();
        let t = policy_table(&[p("1=shared"), p("2=assigned:0")]).unwrap();
        assert_eq!((t[0].nsid, t[1].nsid, t[2].nsid), (1, 2, 0));
        let e = policy_table(&[p("1=shared"), p("1=shared,ro")]).unwrap_err();
        assert_eq!(e, "namespace 1 has two --ns policies");
        let many: Vec<_> = (1..=17).map(|n| p(&format!("{n}=shared"))).collect();
        assert!(policy_table(&many[..16]).is_ok());
        assert_eq!(
            policy_table(&many).unwrap_err(),
            "at most 16 --ns policies, not 17"
        );
        let r = share_request((0, 0, 4 << 3), abi::NVME_SHARE_FORCE, 2, &many[..3]).unwrap();
        assert_eq!(r.header.size as usize, abi::NVME_SHARE_SIZE_V1);
        assert_eq!(r.header.flags, abi::NVME_SHARE_FORCE);
        assert_eq!(
            (r.devfn, r.qpairs_per_client, r.n_policies, r.ctrl),
            (32, 2, 3, 0)
        );
    }

    #[test]
    fn controllers_parse_in_hex_or_decimal_or_as_an_index() {
        assert_eq!(parse_ctrl("1:0x10001"), Ok((1, 0x10001)));
        assert_eq!(parse_ctrl("1:65537"), Ok((1, 0x10001)));
        assert_eq!(parse_ctrl("1:1"), Ok((1, 0x10001)));
        assert_eq!(parse_ctrl("0:0x1"), Ok((0, 1)));
        assert_eq!(
            parse_ctrl("2:0x10001").unwrap_err(),
            "controller 0x10001 is not node 2's"
        );
        assert!(parse_ctrl("1").unwrap_err().contains("NODE:CTRL"));
        assert!(parse_ctrl("16:1").unwrap_err().contains("does not exist"));
        for bad in ["", ":1", "1:", "1:0", "1:0xg", "x:1"] {
            assert!(parse_ctrl(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_nsid("2"), Ok(2));
        assert!(parse_nsid("0").is_err());
    }

    #[test]
    fn values_have_names() {
        assert_eq!(state_name(abi::NVME_CTRL_READY), "ready");
        assert_eq!(state_name(abi::NVME_CTRL_RESETTING), "resetting");
        assert_eq!(state_name(abi::NVME_CTRL_FAILED), "failed");
        assert_eq!(state_name(abi::NVME_CTRL_GONE), "gone");
        assert_eq!(state_name(0), "unknown(0)");
        assert_eq!(flag_names(0), Vec::<String>::new());
        assert_eq!(flag_names(0b111), ["managed", "attached", "iommu"]);
        assert_eq!(flag_names(0b1001), ["managed", "unknown:0x8"]);
        assert_eq!(policy_text(0, 0, 0), "shared");
        assert_eq!(policy_text(0, 0, abi::NVME_POLICY_RO), "shared,ro");
        assert_eq!(policy_text(1, 3, 0), "assigned:3");
        assert_eq!(policy_text(1, 3, 1), "assigned:3,ro");
        assert_eq!(access_name(abi::NVME_ACCESS_RW), "rw");
        assert_eq!(access_name(abi::NVME_ACCESS_RO), "ro");
        assert_eq!(access_name(abi::NVME_ACCESS_NONE), "none");
        assert_eq!(padded(b"QEMU NVMe Ctrl      "), "QEMU NVMe Ctrl");
        assert_eq!(padded(b"    "), "");
        assert_eq!(qids(0b1_0000_0011), [1, 2, 9]);
    }

    #[test]
    fn the_list_prints_three_tables() {
        let (c, n, k) = sample();
        let t = list_text(&c, &n, &k);
        let blocks: Vec<&str> = t.split("\n\n").collect();
        assert_eq!(blocks.len(), 3, "{t}");
        assert_eq!(
            blocks[0],
            "NODE     CTRL  BDF           MODEL           SERIAL   STATE  GEN  QPAIRS  QUOTA  CLIENTS  FLAGS             BAD/REFUSED\n   \
             1  0x10001  0000:00:04.0  QEMU NVMe Ctrl  rsio1n0  ready    1   64/56      4        2  managed,attached          0/0"
        );
        assert_eq!(
            blocks[1],
            "CTRL     NSID  SIZE  BYTES     LBA  POLICY      ACCESS  DISK\n\
             0x10001     1   64M  67108864  512  shared      rw      rsio_nvme1_1n1\n\
             0x10001     2   64M  67108864  512  assigned:2  none    -"
        );
        assert_eq!(
            blocks[2],
            "CTRL     CLIENT  ATTACH  QPAIRS  QIDS  CREATED  VECTORS  COMPLETED  BAD-CQES\n\
             0x10001       1       1       4  1-4         4        4       1520         0\n\
             0x10001       2       2       4  5-8         4        4          0         0\n"
        );
        // The help's example is this very output.
        for line in t.lines().filter(|l| !l.is_empty()) {
            assert!(LIST_AFTER.contains(&format!("    {line}")), "{line}");
        }
        let empty = list_text(&[], &[], &[]);
        assert_eq!(empty.lines().filter(|l| !l.is_empty()).count(), 3);
    }

    #[test]
    fn the_list_json_has_three_arrays_with_every_field() {
        let (c, n, k) = sample();
        let j = list_json(&c, &n, &k);
        let ctrl = &j["controllers"][0];
        assert_eq!(ctrl["ctrl"], json!(0x10001));
        assert_eq!(ctrl["bdf"], json!("0000:00:04.0"));
        assert_eq!(ctrl["model"], json!("QEMU NVMe Ctrl"));
        assert_eq!(ctrl["flags"], json!(["managed", "attached"]));
        assert_eq!(ctrl["state"], json!("ready"));
        // Every field of the entry but `reserved` (bdf stands for three).
        assert_eq!(ctrl.as_object().unwrap().len(), 18);
        let ns = &j["namespaces"][1];
        assert_eq!(ns["size"], json!(64u64 << 20));
        assert_eq!(ns["policy"], json!("assigned:2"));
        assert_eq!(ns["policy_node"], json!(2));
        assert_eq!(ns["disk"], Value::Null);
        assert_eq!(j["namespaces"][0]["policy_node"], Value::Null);
        assert_eq!(j["namespaces"][0]["disk"], json!("rsio_nvme1_1n1"));
        assert_eq!(j["clients"][1]["qids"], json!([5, 6, 7, 8]));
        assert_eq!(j["clients"].as_array().unwrap().len(), 2);
        let empty = list_json(&[], &[], &[]);
        assert_eq!(
            empty.to_string(),
            r#"{"clients":[],"controllers":[],"namespaces":[]}"#
        );
    }

    #[test]
    fn share_and_attach_print_one_line() {
        assert_eq!(
            share_line("0000:00:04.0", 0x10001, 4),
            "shared 0000:00:04.0 as controller 0x10001 (quota 4 queue pairs per client)"
        );
        assert!(SHARE_AFTER.contains(&share_line("0000:00:04.0", 0x10001, 4)));
        assert!(SHARE_AFTER.contains(TRUST_WARNING));
        let mut a = attach_request((1, 0x10001), 0, 0, 0);
        (a.attach, a.granted, a.disks) = (1, 4, 2);
        let (_, nss, _) = sample();
        let disks = disks_of(&nss, 0x10001, None);
        assert_eq!(disks, ["rsio_nvme1_1n1"]);
        assert_eq!(
            attach_line(&a, Some(&disks)),
            "attached to controller 0x10001 of node 1: attach 1, 4 queue pairs, disks rsio_nvme1_1n1"
        );
        assert!(disks_of(&nss, 0x10001, Some(2)).is_empty());
        assert!(disks_of(&nss, 0x20001, None).is_empty());
        a.granted = 1;
        assert!(attach_line(&a, Some(&[])).ends_with("1 queue pair, no disks"));
        assert!(attach_line(&a, None).ends_with(", 2 disks"));
    }

    #[test]
    fn enotty_says_the_module_is_not_loaded() {
        let e = IoctlError {
            name: "NVME_IOC_LIST",
            path: "/dev/rsio".into(),
            error: io::Error::from_raw_os_error(libc::ENOTTY),
        };
        assert_eq!(
            explain(&e, Op::List),
            "NVME_IOC_LIST on /dev/rsio failed: Inappropriate ioctl for device (ENOTTY): \
             rsio_nvme_share is not loaded (modprobe rsio_nvme_share)"
        );
        // /dev/null answers ENOTTY to every ioctl, as /dev/rsio does
        // without the module.
        let dev = Device::open("/dev/null").unwrap();
        let err = fetch::<abi::NvmeCtrlEntry>(&dev).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("rsio_nvme_share is not loaded (modprobe rsio_nvme_share)"),
            "{err}"
        );
        let err = dev
            .nvme_attach(
                abi::NVME_IOC_ATTACH,
                "NVME_IOC_ATTACH",
                attach_request((1, 0x10001), 0, 0, 0),
            )
            .unwrap_err();
        assert!(explain(&err, Op::Attach).ends_with(NOT_LOADED));
    }

    #[test]
    fn errnos_are_explained_per_command() {
        let e = |errno| IoctlError {
            name: "X",
            path: "/dev/rsio".into(),
            error: io::Error::from_raw_os_error(errno),
        };
        assert!(explain(&e(libc::EDQUOT), Op::Attach).contains("(EDQUOT): more queue pairs"));
        assert!(explain(&e(libc::EACCES), Op::Attach).ends_with("assigned to another node"));
        assert!(explain(&e(libc::EBUSY), Op::Unshare).contains("clients are attached"));
        assert!(explain(&e(libc::EBUSY), Op::Detach).contains("open or mounted"));
        assert!(explain(&e(libc::EINVAL), Op::Share).contains("class 010802"));
        assert!(explain(&e(libc::ENOENT), Op::Detach).ends_with("not attached to it"));
    }
}
