//! `rsio_nvme_share`'s feature ioctls of `/dev/rsio` (0x70..0x76,
//! uapi/src/nvme_share.rs) as `rsio-fuzz` sees them: their fields and
//! domains, valid arguments, the rules that say when a call must fail, and
//! the state shares and attachments leave behind.
//!
//! The module may or may not be loaded: the run finds out once, with a
//! valid `NVME_IOC_LIST`. Absent, every call of these numbers must fail
//! with `ENOTTY` (the core owns no handler for them); present, `ENOTTY` is
//! a violation (the core dispatches on the number and direction only) and
//! the argument rules hold as for the core's own ioctls.
//!
//! Shares and attachments are kernel objects, not the file's: a reopen
//! keeps them, and children may leave some behind. At the end of the run
//! the fuzzer lists the controllers and detaches and unshares (forced)
//! whatever this node still holds.

use super::*;
use rsio_uapi::nvme_share::*;

pub(crate) const SHARE_DOMAIN: usize = offset_of!(NvmeShare, domain);
pub(crate) const SHARE_BUS: usize = offset_of!(NvmeShare, bus);
pub(crate) const SHARE_DEVFN: usize = offset_of!(NvmeShare, devfn);
pub(crate) const SHARE_QPAIRS: usize = offset_of!(NvmeShare, qpairs_per_client);
pub(crate) const SHARE_NPOL: usize = offset_of!(NvmeShare, n_policies);
pub(crate) const SHARE_CTRL: usize = offset_of!(NvmeShare, ctrl);
const SHARE_POLICIES: usize = offset_of!(NvmeShare, policies);
const POLICY_SIZE: usize = std::mem::size_of::<NvmePolicy>();
const POL_NSID: usize = offset_of!(NvmePolicy, nsid);
const POL_KIND: usize = offset_of!(NvmePolicy, kind);
const POL_NODE: usize = offset_of!(NvmePolicy, node);
const POL_FLAGS: usize = offset_of!(NvmePolicy, flags);
pub(crate) const ATT_NODE: usize = offset_of!(NvmeAttach, node);
pub(crate) const ATT_CTRL: usize = offset_of!(NvmeAttach, ctrl);
pub(crate) const ATT_QPAIRS: usize = offset_of!(NvmeAttach, qpairs);
pub(crate) const ATT_NSID: usize = offset_of!(NvmeAttach, nsid);
const ATT_ATTACH: usize = offset_of!(NvmeAttach, attach);
const ATT_GRANTED: usize = offset_of!(NvmeAttach, granted);
const ATT_DISKS: usize = offset_of!(NvmeAttach, disks);
const ATT_RESERVED: usize = offset_of!(NvmeAttach, reserved);
const ENTRY_NODE: usize = offset_of!(NvmeCtrlEntry, node);
const ENTRY_CTRL: usize = offset_of!(NvmeCtrlEntry, ctrl);
const ENTRY_DOMAIN: usize = offset_of!(NvmeCtrlEntry, domain);
const ENTRY_BUS: usize = offset_of!(NvmeCtrlEntry, bus);
const ENTRY_DEVFN: usize = offset_of!(NvmeCtrlEntry, devfn);
const ENTRY_FLAGS: usize = offset_of!(NvmeCtrlEntry, flags);

/// The class code of an NVMe controller (mass storage, NVM, NVMe).
pub(crate) const NVME_CLASS: u32 = 0x01_0802;

/// The errnos these ioctls return beyond the core's (nvme_share.rs).
const NVME_ERRNOS: &[i32] = &[
    libc::EBUSY,
    libc::EDQUOT,
    libc::EACCES,
    libc::EOPNOTSUPP,
    libc::ECONNRESET,
];

/// Whether an ioctl of rsio_nvme_share may fail with `errno` (the core's
/// documented ones, and its own).
pub(crate) fn allows(errno: i32) -> bool {
    DOCUMENTED.contains(&errno) || NVME_ERRNOS.contains(&errno)
}

/// A PCI function of this node, from sysfs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PciFn {
    pub(crate) bdf: (u32, u32, u32),
    pub(crate) class: u32,
}

/// This node's PCI functions (`/sys/bus/pci/devices`), None if unreadable.
pub(crate) fn scan_pci() -> Option<Vec<PciFn>> {
    let mut fns = Vec::new();
    for entry in std::fs::read_dir("/sys/bus/pci/devices").ok()? {
        let entry = entry.ok()?;
        let name = entry.file_name().into_string().ok()?;
        let Some(bdf) = parse_bdf(&name) else {
            continue;
        };
        let class = std::fs::read_to_string(entry.path().join("class")).ok()?;
        let class = u32::from_str_radix(class.trim().trim_start_matches("0x"), 16).ok()?;
        fns.push(PciFn { bdf, class });
    }
    Some(fns)
}

/// `DDDD:BB:DD.F` (sysfs' names) into `(domain, bus, devfn)`.
pub(crate) fn parse_bdf(s: &str) -> Option<(u32, u32, u32)> {
    let (domain, rest) = s.split_once(':')?;
    let (bus, rest) = rest.split_once(':')?;
    let (dev, func) = rest.split_once('.')?;
    let hex = |p: &str| u32::from_str_radix(p, 16).ok();
    let (dev, func) = (hex(dev)?, hex(func)?);
    if dev > 0x1f || func > 7 {
        return None;
    }
    Some((hex(domain)?, hex(bus)?, dev << 3 | func))
}

/// What the fuzzer knows of rsio_nvme_share.
#[derive(Default)]
pub(crate) struct Nvme {
    /// The module is loaded (a valid `NVME_IOC_LIST` did not fail with
    /// `ENOTTY`).
    pub(crate) present: bool,
    /// This node's PCI functions (None: sysfs unreadable, no rules on BDFs).
    pub(crate) pci: Option<Vec<PciFn>>,
    /// Controllers seen in `NVME_IOC_LIST` or made by a share: `(node, ctrl)`.
    pub(crate) ctrls: Vec<(u32, u32)>,
    /// Controllers this process shared: `(bdf, ctrl)`.
    pub(crate) shared: Vec<((u32, u32, u32), u32)>,
    /// Controllers this process attached to: `(node, ctrl)`.
    pub(crate) attached: Vec<(u32, u32)>,
    /// Successful shares and attaches, and what the end of the run cleaned up.
    pub(crate) shares: u64,
    pub(crate) attaches: u64,
    pub(crate) cleaned: u64,
}

impl Nvme {
    /// The NVMe functions of this node.
    fn nvme_bdfs(&self) -> Vec<(u32, u32, u32)> {
        let fns = self.pci.iter().flatten();
        fns.filter(|f| f.class == NVME_CLASS)
            .map(|f| f.bdf)
            .collect()
    }

    /// Why a share or unshare of `bdf` must fail whatever the state.
    fn bdf_must_fail(&self, bdf: (u32, u32, u32)) -> Option<String> {
        let pci = self.pci.as_ref()?;
        let (d, b, f) = bdf;
        let name = format!("{d:04x}:{b:02x}:{:02x}.{}", f >> 3, f & 7);
        match pci.iter().find(|p| p.bdf == bdf) {
            None => Some(format!("no PCI function {name} (no NVMe controller there)")),
            Some(p) if p.class != NVME_CLASS => Some(format!(
                "{name} is of class {:06x} (no NVMe controller there)",
                p.class
            )),
            Some(_) => None,
        }
    }

    fn learn(&mut self, node: u32, ctrl: u32) {
        if ctrl != 0 && !self.ctrls.contains(&(node, ctrl)) {
            self.ctrls.push((node, ctrl));
            if self.ctrls.len() > 16 {
                self.ctrls.remove(0);
            }
        }
    }
}

/// A controller an `NVME_IOC_LIST` wrote, as far as the fuzzer cares.
pub(crate) struct Listed {
    node: u32,
    ctrl: u32,
    bdf: (u32, u32, u32),
    flags: u32,
}

/// The fields of `NvmeShare` a mutation may set.
pub(crate) const SHARE_FIELDS: &[Field<Dom>] = &[
    f("domain", SHARE_DOMAIN, 4, Dom::Pci),
    f("bus", SHARE_BUS, 4, Dom::Pci),
    f("devfn", SHARE_DEVFN, 4, Dom::Pci),
    f("qpairs_per_client", SHARE_QPAIRS, 4, Dom::Qpairs),
    f("n_policies", SHARE_NPOL, 4, Dom::NPolicies),
    // In: zero.
    f("ctrl", SHARE_CTRL, 4, Dom::Reserved),
    f("policies[0].nsid", SHARE_POLICIES + POL_NSID, 4, Dom::Nsid),
    f(
        "policies[0].kind",
        SHARE_POLICIES + POL_KIND,
        4,
        Dom::PolicyKind,
    ),
    f("policies[0].node", SHARE_POLICIES + POL_NODE, 4, Dom::Node),
    f(
        "policies[0].flags",
        SHARE_POLICIES + POL_FLAGS,
        4,
        Dom::PolicyFlags,
    ),
    f(
        "policies[15].nsid",
        SHARE_POLICIES + 15 * POLICY_SIZE + POL_NSID,
        4,
        Dom::Nsid,
    ),
];

/// The fields of `NvmeAttach` a mutation may set.
pub(crate) const ATTACH_FIELDS: &[Field<Dom>] = &[
    f("node", ATT_NODE, 4, Dom::Node),
    f("ctrl", ATT_CTRL, 4, Dom::Ctrl),
    f("qpairs", ATT_QPAIRS, 4, Dom::Qpairs),
    f("nsid", ATT_NSID, 4, Dom::Nsid),
    // Out only, but zero in.
    f("attach", ATT_ATTACH, 4, Dom::Reserved),
    f("granted", ATT_GRANTED, 4, Dom::Reserved),
    f("disks", ATT_DISKS, 4, Dom::Reserved),
    f("reserved", ATT_RESERVED, 4, Dom::Reserved),
];

/// The first version's size of a list's elements.
pub(crate) fn entry_min(op: Op) -> usize {
    match op {
        Op::NvmeList => NVME_CTRL_ENTRY_SIZE_V1,
        Op::NvmeListNs => NVME_NS_ENTRY_SIZE_V1,
        _ => NVME_CLIENT_ENTRY_SIZE_V1,
    }
}

impl Fuzzer<Rsio> {
    /// Why the ABI says this NVMe-share call must fail (`c`: its bytes,
    /// `size`: the number's).
    pub(crate) fn nvme_must_fail(&self, op: Op, c: &[u8], size: usize) -> Option<String> {
        let nvme = &self.abi.nvme;
        if !nvme.present {
            return Some("rsio_nvme_share is not loaded".into());
        }
        let v = |off: usize| field(c, size, off, 4);
        match op {
            Op::NvmeList | Op::NvmeListNs | Op::NvmeListClients => {
                list_must_fail(c, size, entry_min(op))
            }
            Op::NvmeShare | Op::NvmeUnshare => {
                let (d, b, f) = (v(SHARE_DOMAIN), v(SHARE_BUS), v(SHARE_DEVFN));
                if d > 0xffff || b > 0xff || f > 0xff {
                    return Some(format!("PCI address {d:#x}:{b:#x}:{f:#x} out of range"));
                }
                if v(SHARE_CTRL) != 0 {
                    return Some("ctrl not zero on input".into());
                }
                let (qpairs, n) = (v(SHARE_QPAIRS), v(SHARE_NPOL));
                if op == Op::NvmeUnshare {
                    if qpairs != 0 || n != 0 {
                        return Some("UNSHARE with a quota or policies".into());
                    }
                } else {
                    if qpairs > NVME_MAX_CLIENT_QPAIRS as u64 {
                        return Some(format!("qpairs_per_client {qpairs}"));
                    }
                    if n > NVME_MAX_POLICIES as u64 {
                        return Some(format!("n_policies {n}"));
                    }
                    for i in 0..n as usize {
                        let at = SHARE_POLICIES + i * POLICY_SIZE;
                        let (nsid, kind) = (v(at + POL_NSID), v(at + POL_KIND));
                        let (node, flags) = (v(at + POL_NODE), v(at + POL_FLAGS));
                        let bad = if nsid == 0 {
                            Some("nsid 0")
                        } else if kind > NVME_POLICY_ASSIGNED as u64 {
                            Some("unknown kind")
                        } else if flags & !(NVME_POLICY_RO as u64) != 0 {
                            Some("unknown flags")
                        } else if kind == NVME_POLICY_ASSIGNED as u64 {
                            (node >= RSIO_MAX_NODES as u64).then_some("node out of range")
                        } else {
                            (node != 0).then_some("a node for a shared namespace")
                        };
                        if let Some(why) = bad {
                            return Some(format!("policy {i}: {why}"));
                        }
                    }
                }
                nvme.bdf_must_fail((d as u32, b as u32, f as u32))
            }
            Op::NvmeAttach | Op::NvmeDetach => {
                let (node, ctrl) = (v(ATT_NODE), v(ATT_CTRL));
                let fabric = match self.abi.self_id {
                    Some(_) => self.abi.nodes as u64,
                    None => RSIO_MAX_NODES as u64,
                };
                if node >= fabric {
                    return Some(format!("node {node} is not in the fabric"));
                }
                if ctrl >> 16 != node {
                    return Some(format!("ctrl {ctrl:#x} is not node {node}'s"));
                }
                if ctrl & 0xffff == 0 {
                    return Some("ctrl index 0".into());
                }
                if [ATT_ATTACH, ATT_GRANTED, ATT_DISKS]
                    .iter()
                    .any(|&o| v(o) != 0)
                {
                    return Some("an output field not zero on input".into());
                }
                if v(ATT_RESERVED) != 0 {
                    return Some("reserved not zero".into());
                }
                let (qpairs, nsid) = (v(ATT_QPAIRS), v(ATT_NSID));
                if op == Op::NvmeDetach && (qpairs != 0 || nsid != 0) {
                    return Some("DETACH with qpairs or nsid".into());
                }
                if qpairs > NVME_MAX_CLIENT_QPAIRS as u64 {
                    return Some(format!("qpairs {qpairs}"));
                }
                None
            }
            _ => None,
        }
    }

    /// A valid argument for an NVMe-share ioctl in the current state (most
    /// name nothing that exists: the rules above say so; valid all the
    /// same).
    pub(crate) fn nvme_valid_args(&mut self, op: Op, b: &mut [u8]) -> Option<Ptr> {
        match op {
            Op::NvmeList | Op::NvmeListNs | Op::NvmeListClients => {
                let min = entry_min(op);
                let cap = self.rng.pick(&[0, 1, 2, 4, 16, 64]);
                let es = self
                    .rng
                    .pick(&[min, min, min, min + 8, min + 64, RSIO_MAX_ARG_SIZE]);
                put(b, LIST_CAPACITY, 4, cap);
                put(b, LIST_ENTRY_SIZE, 4, es as u64);
                return Some(if cap == 0 && self.rng.chance(1, 2) {
                    Ptr::Null
                } else {
                    Ptr::Valid
                });
            }
            Op::NvmeShare => {
                let bdf = self.some_bdf();
                put_bdf(b, bdf);
                if self.rng.chance(1, 4) {
                    put(b, 4, 4, NVME_SHARE_FORCE as u64);
                }
                put(b, SHARE_QPAIRS, 4, self.rng.pick(&[0, 0, 1, 2, 4, 16]));
                let n = self.rng.below(4) as usize;
                put(b, SHARE_NPOL, 4, n as u64);
                for i in 0..n {
                    let at = SHARE_POLICIES + i * POLICY_SIZE;
                    put(b, at + POL_NSID, 4, i as u64 + 1);
                    if self.rng.chance(1, 2) {
                        let node = self.some_node();
                        put(b, at + POL_KIND, 4, NVME_POLICY_ASSIGNED as u64);
                        put(b, at + POL_NODE, 4, node as u64);
                    }
                    if self.rng.chance(1, 3) {
                        put(b, at + POL_FLAGS, 4, NVME_POLICY_RO as u64);
                    }
                }
            }
            Op::NvmeUnshare => {
                let shared: Vec<_> = self.abi.nvme.shared.iter().map(|s| s.0).collect();
                let bdf = if !shared.is_empty() && self.rng.chance(3, 4) {
                    self.rng.pick(&shared)
                } else {
                    self.some_bdf()
                };
                put_bdf(b, bdf);
                if self.rng.chance(1, 2) {
                    put(b, 4, 4, NVME_SHARE_FORCE as u64);
                }
            }
            Op::NvmeAttach | Op::NvmeDetach => {
                let (node, ctrl) = self.some_ctrl(op == Op::NvmeDetach);
                put(b, ATT_NODE, 4, node as u64);
                put(b, ATT_CTRL, 4, ctrl as u64);
                if op == Op::NvmeAttach {
                    put(b, ATT_QPAIRS, 4, self.rng.pick(&[0, 0, 1, 2, 4]));
                    put(b, ATT_NSID, 4, self.rng.pick(&[0, 0, 1, 2]));
                    if self.rng.chance(1, 4) {
                        put(b, 4, 4, NVME_ATTACH_RO as u64);
                    }
                } else if self.rng.chance(1, 3) {
                    put(b, 4, 4, NVME_DETACH_FORCE as u64);
                }
            }
            _ => {}
        }
        None
    }

    /// A PCI function to share: an NVMe controller of this node now and
    /// then, else another function of it or one that does not exist.
    fn some_bdf(&mut self) -> (u32, u32, u32) {
        let nvme = self.abi.nvme.nvme_bdfs();
        let all: Vec<_> = self.abi.nvme.pci.iter().flatten().map(|p| p.bdf).collect();
        match self.rng.below(10) {
            0..=2 if !nvme.is_empty() => self.rng.pick(&nvme),
            0..=6 if !all.is_empty() => self.rng.pick(&all),
            _ => (
                0,
                self.rng.below(3) as u32,
                (self.rng.below(32) as u32) << 3,
            ),
        }
    }

    /// A controller to attach to or detach from: mostly one seen, else one
    /// a peer or this node might share.
    fn some_ctrl(&mut self, detach: bool) -> (u32, u32) {
        let attached = self.abi.nvme.attached.clone();
        if detach && !attached.is_empty() && self.rng.chance(3, 4) {
            return self.rng.pick(&attached);
        }
        let seen = self.abi.nvme.ctrls.clone();
        if !seen.is_empty() && self.rng.chance(2, 3) {
            return self.rng.pick(&seen);
        }
        let node = self.some_node();
        (node, node << 16 | self.rng.range(1, 3) as u32)
    }

    /// Boundary values of the NVMe-share domains.
    pub(crate) fn nvme_boundary_values(&mut self, dom: Dom) -> Vec<u64> {
        match dom {
            Dom::Pci => vec![0, 3, 4 << 3, 0xff, 0x100, 0xffff, 0x1_0000],
            Dom::Qpairs => vec![
                0,
                1,
                NVME_MAX_CLIENT_QPAIRS as u64,
                NVME_MAX_CLIENT_QPAIRS as u64 + 1,
                64,
            ],
            Dom::NPolicies => vec![0, 1, NVME_MAX_POLICIES as u64, NVME_MAX_POLICIES as u64 + 1],
            Dom::Nsid => vec![
                0,
                1,
                2,
                NVME_MAX_NAMESPACES as u64,
                NVME_MAX_NAMESPACES as u64 + 1,
                0xffff_ffff,
            ],
            Dom::PolicyKind => vec![NVME_POLICY_SHARED as u64, NVME_POLICY_ASSIGNED as u64, 2],
            Dom::PolicyFlags => vec![0, NVME_POLICY_RO as u64, 2],
            Dom::Ctrl => {
                let (own, peer) = (self.abi.self_id.unwrap_or(0) as u64, self.abi.peer as u64);
                let mut v = vec![
                    0,
                    1,
                    peer << 16,
                    peer << 16 | 1,
                    own << 16 | 1,
                    peer << 16 | 0xffff,
                    16 << 16 | 1,
                ];
                v.extend(self.abi.nvme.ctrls.iter().map(|c| c.1 as u64));
                v
            }
            _ => vec![self.rng.next()],
        }
    }

    /// Follows shares, attachments and the controllers listed after a call
    /// of an NVMe-share ioctl; checks what the module's presence implies.
    pub(crate) fn nvme_after_call(&mut self, op: Op, call: &Call<()>, out: &Outcome) {
        if let Some(why) = presence_violation(self.abi.nvme.present, call.cmd, out) {
            self.violation(&format!("{op:?}: {why}"));
            return;
        }
        if !self.abi.nvme.present {
            return;
        }
        let readable = matches!(call.arg, Ptr::Valid | Ptr::Misaligned);
        let c = &call.bytes;
        let bdf = (
            get(c, SHARE_DOMAIN, 4) as u32,
            get(c, SHARE_BUS, 4) as u32,
            get(c, SHARE_DEVFN, 4) as u32,
        );
        let target = (get(c, ATT_NODE, 4) as u32, get(c, ATT_CTRL, 4) as u32);
        let gone = out.rc == 0 || out.errno == libc::ENOENT;
        match op {
            Op::NvmeList if out.rc == 0 && readable => {
                self.learn_ctrls(call, out);
            }
            Op::NvmeShare if out.rc == 0 => {
                let ctrl = if readable {
                    self.mem
                        .arg
                        .read(out.addr + SHARE_CTRL as u64, 4)
                        .unwrap_or(0) as u32
                } else {
                    0
                };
                let nvme = &mut self.abi.nvme;
                nvme.shares += 1;
                nvme.shared.retain(|s| s.0 != bdf);
                nvme.shared.push((bdf, ctrl));
                nvme.learn(ctrl >> 16, ctrl);
            }
            Op::NvmeUnshare if gone => self.abi.nvme.shared.retain(|s| s.0 != bdf),
            Op::NvmeAttach if out.rc == 0 => {
                let nvme = &mut self.abi.nvme;
                nvme.attaches += 1;
                nvme.attached.retain(|a| *a != target);
                nvme.attached.push(target);
            }
            Op::NvmeDetach if gone => self.abi.nvme.attached.retain(|a| *a != target),
            _ => {}
        }
    }

    /// The controllers a successful `NVME_IOC_LIST` wrote.
    fn learn_ctrls(&mut self, call: &Call<()>, out: &Outcome) -> Vec<Listed> {
        let c = &call.bytes;
        let (base, es) = (get(c, LIST_ENTRIES, 8), get(c, LIST_ENTRY_SIZE, 4));
        let cap = get(c, LIST_CAPACITY, 4);
        let count = self
            .mem
            .arg
            .read(out.addr + LIST_COUNT as u64, 4)
            .unwrap_or(0);
        let mut seen = Vec::new();
        for i in 0..count.min(cap).min(64) {
            let at = base + i * es;
            let word = |off: usize| self.mem.entries.read(at + off as u64, 4);
            let (Some(node), Some(ctrl), Some(d), Some(b), Some(f), Some(flags)) = (
                word(ENTRY_NODE),
                word(ENTRY_CTRL),
                word(ENTRY_DOMAIN),
                word(ENTRY_BUS),
                word(ENTRY_DEVFN),
                word(ENTRY_FLAGS),
            ) else {
                break;
            };
            seen.push(Listed {
                node: node as u32,
                ctrl: ctrl as u32,
                bdf: (d as u32, b as u32, f as u32),
                flags: flags as u32,
            });
        }
        for l in &seen {
            self.abi.nvme.learn(l.node, l.ctrl);
        }
        seen
    }

    /// After a valid operation: most shares and attachments go again soon,
    /// and there are never more than two of each.
    pub(crate) fn nvme_after_valid(&mut self, op: Op, out: &Outcome) {
        match op {
            Op::NvmeShare if out.rc == 0 && self.rng.chance(1, 2) => {
                if let Some(&(bdf, _)) = self.abi.nvme.shared.last() {
                    self.unshare(bdf, "unshare what was just shared");
                }
            }
            Op::NvmeAttach if out.rc == 0 && self.rng.chance(1, 2) => {
                if let Some(&t) = self.abi.nvme.attached.last() {
                    self.detach(t, "detach what was just attached");
                }
            }
            _ => {}
        }
        if self.abi.nvme.shared.len() > 2 {
            let bdf = self.abi.nvme.shared[0].0;
            self.unshare(bdf, "trim the shares");
        }
        if self.abi.nvme.attached.len() > 2 {
            let t = self.abi.nvme.attached[0];
            self.detach(t, "trim the attachments");
        }
    }

    fn unshare(&mut self, bdf: (u32, u32, u32), what: &str) {
        let mut b = self.request(Op::NvmeUnshare);
        put(&mut b, 4, 4, NVME_SHARE_FORCE as u64);
        put_bdf(&mut b, bdf);
        self.exec_request(Op::NvmeUnshare, b, what);
        // Gone whatever the answer: a failure is the module's to explain.
        self.abi.nvme.shared.retain(|s| s.0 != bdf);
    }

    fn detach(&mut self, (node, ctrl): (u32, u32), what: &str) {
        let mut b = self.request(Op::NvmeDetach);
        put(&mut b, 4, 4, NVME_DETACH_FORCE as u64);
        put(&mut b, ATT_NODE, 4, node as u64);
        put(&mut b, ATT_CTRL, 4, ctrl as u64);
        self.exec_request(Op::NvmeDetach, b, what);
        self.abi.nvme.attached.retain(|a| *a != (node, ctrl));
    }

    /// At the end of the run: detach from and unshare (forced) whatever
    /// this node still holds, children's leftovers included.
    pub(crate) fn nvme_cleanup(&mut self) {
        if !self.abi.nvme.present || !self.abi.privileged {
            return;
        }
        let mut b = self.request(Op::NvmeList);
        put(&mut b, LIST_ENTRIES, 8, self.mem.entries.addr(0));
        put(&mut b, LIST_CAPACITY, 4, 64);
        put(&mut b, LIST_ENTRY_SIZE, 4, NVME_CTRL_ENTRY_SIZE_V1 as u64);
        let call = || Call {
            cmd: NVME_IOC_LIST,
            bytes: b.clone(),
            arg: Ptr::Valid,
            emb: Some(Ptr::Valid),
            extra: (),
            what: "list what to clean up".into(),
        };
        let out = self.exec(call());
        if out.rc != 0 {
            return;
        }
        let entries = self.learn_ctrls(&call(), &out);
        for l in entries
            .iter()
            .filter(|l| l.flags & NVME_CTRL_ATTACHED_HERE != 0)
        {
            self.abi.nvme.cleaned += 1;
            self.detach((l.node, l.ctrl), "clean up: detach");
        }
        for l in entries
            .iter()
            .filter(|l| l.flags & NVME_CTRL_MANAGED_HERE != 0)
        {
            self.abi.nvme.cleaned += 1;
            self.unshare(l.bdf, "clean up: unshare");
        }
    }

    /// The summary's line.
    pub(crate) fn nvme_counter(&self) -> String {
        let n = &self.abi.nvme;
        if n.present {
            format!(
                "nvme share  loaded: {} shares, {} attaches, {} cleaned up at the end",
                n.shares, n.attaches, n.cleaned
            )
        } else {
            "nvme share  rsio_nvme_share not loaded (its ioctls must fail with ENOTTY)".into()
        }
    }
}

/// Detects the module: a valid `NVME_IOC_LIST` that does not fail with
/// `ENOTTY` (a list of the controllers, which are learnt).
pub(crate) fn detect(fz: &mut Fuzzer<Rsio>) -> String {
    let mut b = fz.request(Op::NvmeList);
    put(&mut b, LIST_ENTRIES, 8, fz.mem.entries.addr(0));
    put(&mut b, LIST_CAPACITY, 4, 16);
    put(&mut b, LIST_ENTRY_SIZE, 4, NVME_CTRL_ENTRY_SIZE_V1 as u64);
    fz.mem.arg.write(0, &b);
    let addr = fz.mem.arg.addr(0);
    // SAFETY: addr is the start of our argument region, large enough for an RsioList, whose entries point at our entries region (16 entries of 124 bytes fit).
    let rc = unsafe {
        libc::ioctl(
            fz.file.as_raw_fd(),
            NVME_IOC_LIST as libc::c_ulong,
            addr as usize,
        )
    };
    let errno = if rc < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    } else {
        0
    };
    fz.abi.nvme.present = !(rc < 0 && errno == libc::ENOTTY);
    if rc == 0 {
        let call = Call {
            cmd: NVME_IOC_LIST,
            bytes: b,
            arg: Ptr::Valid,
            emb: Some(Ptr::Valid),
            extra: (),
            what: String::new(),
        };
        let out = Outcome {
            rc: 0,
            errno: 0,
            elapsed: Duration::ZERO,
            addr,
        };
        let n = fz.learn_ctrls(&call, &out).len();
        return format!("rsio_nvme_share loaded ({n} controllers)");
    }
    if fz.abi.nvme.present {
        format!("rsio_nvme_share loaded (NVME_IOC_LIST: {})", errname(errno))
    } else {
        "rsio_nvme_share not loaded".into()
    }
}

/// What a call of a known NVMe-share number must not do given whether the
/// module is `present`: fail with anything but ENOTTY without it, fail with
/// ENOTTY with it. (A success without it is the must-fail rules' business.)
pub(crate) fn presence_violation(present: bool, cmd: u32, out: &Outcome) -> Option<String> {
    match (present, out.rc < 0, out.errno) {
        (false, true, e) if e != libc::ENOTTY => Some(format!(
            "rsio_nvme_share is not loaded, but the call failed with {} instead of ENOTTY",
            errname(e)
        )),
        (true, true, libc::ENOTTY) => Some(format!(
            "ENOTTY although rsio_nvme_share is loaded (it owns number {:#x})",
            ioc_nr(cmd)
        )),
        _ => None,
    }
}

fn put_bdf(b: &mut [u8], (domain, bus, devfn): (u32, u32, u32)) {
    put(b, SHARE_DOMAIN, 4, domain as u64);
    put(b, SHARE_BUS, 4, bus as u64);
    put(b, SHARE_DEVFN, 4, devfn as u64);
}
