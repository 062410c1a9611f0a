//! The control protocol of `rsio-fabric`: how a test harness inspects a
//! running fabric and injects faults into it while the node VMs run.
//!
//! # Wire format
//!
//! The server listens on a UNIX stream socket (`DIR/control.sock`). A
//! client sends requests, one per line: words separated by blanks,
//! terminated by `\n`, at most [`MAX_REQUEST_LEN`] bytes. The server
//! answers each request with exactly one line of JSON. A client may send
//! several requests on one connection or open one connection per request;
//! clients are served independently of each other.
//!
//! | request | effect |
//! | --- | --- |
//! | `status` | none: reports the configuration and every node |
//! | `link-down N` | the fabric holds node N's link down (peers see it go down) |
//! | `link-up N` | the fabric lets node N's link up again |
//! | `kill N` | node N's adapter vanishes: its BARs read all-ones, peers see it gone |
//! | `revive N` | node N's adapter comes back |
//! | `latency N US` | each of node N's BAR2 accesses takes US more microseconds (0..=[`MAX_LATENCY_US`]; 0 removes the delay) |
//! | `drop-doorbells N on` / `off` | doorbells sent to node N are dropped / delivered again |
//! | `stall-mmio N on` / `off` | remote-MMIO reads node N's adapter performs as a target (a peer reading a device N lends) get no completion: the reader's adapter times out (`RMMIO_TIMEOUT`) / complete again |
//! | `chassis-power N off` / `on` | chassis N powers off (its link goes down for every node, every slot claim is released, every populated slot is powered off) / on again (link up, populated slots powered on); `GENERATION` increments |
//! | `slot-power N D off` / `on` | powers the slot of chassis N's root port at device D of bus 0 off / on (its Slot Control, written through the chassis's bus-master path); `GENERATION` increments |
//! | `shutdown` | the server replies, then stops the fabric |
//!
//! Node ids are decimal. Every reply is a JSON object with a boolean `ok`:
//!
//! * `status`: `{"ok":true,"config":CONFIG,"nodes":[NODE,...]}`
//! * a fault command: `{"ok":true,"node":NODE}`, the node after the change
//! * `shutdown`: `{"ok":true,"shutdown":true}`
//! * a failure: `{"ok":false,"kind":KIND,"error":"a sentence for humans"}`,
//!   where `KIND` is `"usage"` (the request is malformed: unknown command,
//!   wrong arguments, not text, too long) or `"refused"` (the request is
//!   well-formed but the fabric cannot do it, e.g. there is no such node).
//!
//! `CONFIG` is the fabric's configuration (`chassis`: the expansion
//! chassis nodes):
//!
//! ```json
//! {"nodes":2,"ram_mib":384,"lut_slots":64,"slot_shift":21,"in_windows":32,
//!  "dma_channels":2,"multicast":[[0,1]],"direct":true,"direct_alias":true,"direct_shift":29,
//!  "chassis":[]}
//! ```
//!
//! `NODE` is one node's state ([`NodeStatus`]):
//!
//! ```json
//! {"id":1,"present":true,"link_enabled":true,"link_status":3,
//!  "faults":{"link_down":false,"killed":false,"latency_us":0,"drop_doorbells":false,
//!            "stall_mmio":false},
//!  "counters":{"tx":0,"errors":0,"refused":0,"dma_bytes":0,"db_tx":0,"db_rx":0,
//!              "rmmio":0,"db_dropped":0}}
//! ```
//!
//! `present`: a VM is connected and the node is not killed. `link_enabled`:
//! the node's driver set `LINK_CTRL.ENABLE`. `link_status`: the node's
//! `LINK_STATUS` register (bit n: the link to node n is up). `counters`: the
//! adapter's counters (docs/adapter.md 4.1), plus `db_dropped`, the
//! doorbells `drop-doorbells` discarded. A chassis node also has
//! `"chassis":{"powered":true,"generation":1,"owners":{"4":0}}`: whether it
//! is powered, its `GENERATION`, and each claimed slot (device number) with
//! its owner node.

use std::fmt;
use std::sync::atomic::Ordering;

use serde::Serialize;
use serde_json::json;

use crate::fabric::{Fabric, Node};

/// The longest request line the server reads, newline excluded.
pub const MAX_REQUEST_LEN: usize = 1024;

/// The largest latency `latency` injects: QEMU gives up on a trapped
/// access after a few seconds, so more would kill the VM rather than slow
/// it down.
pub const MAX_LATENCY_US: u32 = 1_000_000;

/// The requests, for error messages and help texts.
pub const COMMANDS: &str = "status, link-down N, link-up N, kill N, revive N, latency N US, \
                            drop-doorbells N on|off, stall-mmio N on|off, \
                            chassis-power N on|off, slot-power N D on|off, shutdown";

/// One control request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Report the configuration and every node.
    Status,
    /// Hold `node`'s link down, or let it up.
    SetLinkDown {
        node: usize,
        down: bool,
    },
    /// Kill `node`'s adapter, or revive it.
    SetKilled {
        node: usize,
        killed: bool,
    },
    /// Delay each of `node`'s BAR2 accesses by `us` microseconds.
    SetLatency {
        node: usize,
        us: u32,
    },
    /// Drop the doorbells sent to `node`, or deliver them.
    SetDropDoorbells {
        node: usize,
        drop: bool,
    },
    SetStallMmio {
        node: usize,
        stall: bool,
    },
    /// Power chassis `node` on or off.
    ChassisPower {
        node: usize,
        on: bool,
    },
    /// Power the slot of chassis `node`'s root port at device `dev` on or off.
    SlotPower {
        node: usize,
        dev: u8,
        on: bool,
    },
    /// Stop the fabric.
    Shutdown,
}

/// A request line that is not a valid request; the message says why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestError(String);

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RequestError {}

impl Request {
    /// Parses one request line (without its newline).
    pub fn parse(line: &str) -> Result<Request, RequestError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&command, args)) = words.split_first() else {
            return Err(RequestError(format!(
                "empty request; the commands are: {COMMANDS}"
            )));
        };
        let arity = |usage: &str, n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(RequestError(format!("usage: {usage}")))
            }
        };
        let node = |word: &str| -> Result<usize, RequestError> {
            word.parse()
                .map_err(|_| RequestError(format!("`{word}` is not a node id")))
        };
        let on_off = |word: &str| match word {
            "on" => Ok(true),
            "off" => Ok(false),
            other => Err(RequestError(format!("`{other}` is neither on nor off"))),
        };
        match command {
            "status" => arity("status", 0).map(|()| Request::Status),
            "shutdown" => arity("shutdown", 0).map(|()| Request::Shutdown),
            "link-down" | "link-up" => {
                arity(&format!("{command} N"), 1)?;
                Ok(Request::SetLinkDown {
                    node: node(args[0])?,
                    down: command == "link-down",
                })
            }
            "kill" | "revive" => {
                arity(&format!("{command} N"), 1)?;
                Ok(Request::SetKilled {
                    node: node(args[0])?,
                    killed: command == "kill",
                })
            }
            "latency" => {
                arity("latency N US (microseconds)", 2)?;
                let node = node(args[0])?;
                let us = args[1]
                    .parse::<u32>()
                    .ok()
                    .filter(|us| *us <= MAX_LATENCY_US)
                    .ok_or_else(|| {
                        RequestError(format!(
                            "`{}` is not a latency: give 0..={MAX_LATENCY_US} microseconds",
                            args[1]
                        ))
                    })?;
                Ok(Request::SetLatency { node, us })
            }
            "drop-doorbells" | "stall-mmio" => {
                arity(&format!("{command} N on|off"), 2)?;
                let node = node(args[0])?;
                let on = match args[1] {
                    "on" => true,
                    "off" => false,
                    other => return Err(RequestError(format!("`{other}` is neither on nor off"))),
                };
                Ok(if command == "stall-mmio" {
                    Request::SetStallMmio { node, stall: on }
                } else {
                    Request::SetDropDoorbells { node, drop: on }
                })
            }
            "chassis-power" => {
                arity("chassis-power N on|off", 2)?;
                Ok(Request::ChassisPower {
                    node: node(args[0])?,
                    on: on_off(args[1])?,
                })
            }
            "slot-power" => {
                arity(
                    "slot-power N D on|off (D: the root port's device number)",
                    3,
                )?;
                let node = node(args[0])?;
                let dev = args[1]
                    .parse::<u8>()
                    .ok()
                    .filter(|d| *d < 32)
                    .ok_or_else(|| {
                        RequestError(format!("`{}` is not a device number (0..=31)", args[1]))
                    })?;
                Ok(Request::SlotPower {
                    node,
                    dev,
                    on: on_off(args[2])?,
                })
            }
            other => Err(RequestError(format!(
                "unknown command `{other}`; the commands are: {COMMANDS}"
            ))),
        }
    }

    /// The node the request is about, if any.
    pub fn node(&self) -> Option<usize> {
        match *self {
            Request::Status | Request::Shutdown => None,
            Request::SetLinkDown { node, .. }
            | Request::SetKilled { node, .. }
            | Request::SetLatency { node, .. }
            | Request::SetDropDoorbells { node, .. }
            | Request::SetStallMmio { node, .. }
            | Request::ChassisPower { node, .. }
            | Request::SlotPower { node, .. } => Some(node),
        }
    }
}

/// The request's line, as [`Request::parse`] reads it.
impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on_off = |on: bool| if on { "on" } else { "off" };
        match *self {
            Request::Status => write!(f, "status"),
            Request::SetLinkDown { node, down: true } => write!(f, "link-down {node}"),
            Request::SetLinkDown { node, down: false } => write!(f, "link-up {node}"),
            Request::SetKilled { node, killed: true } => write!(f, "kill {node}"),
            Request::SetKilled {
                node,
                killed: false,
            } => write!(f, "revive {node}"),
            Request::SetLatency { node, us } => write!(f, "latency {node} {us}"),
            Request::SetStallMmio { node, stall } => {
                write!(f, "stall-mmio {node} {}", on_off(stall))
            }
            Request::SetDropDoorbells { node, drop } => {
                write!(f, "drop-doorbells {node} {}", on_off(drop))
            }
            Request::ChassisPower { node, on } => write!(f, "chassis-power {node} {}", on_off(on)),
            Request::SlotPower { node, dev, on } => {
                write!(f, "slot-power {node} {dev} {}", on_off(on))
            }
            Request::Shutdown => write!(f, "shutdown"),
        }
    }
}

/// Why a request failed, as the reply's `kind` tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed (`"usage"`).
    Usage,
    /// The request is well-formed but the fabric cannot do it (`"refused"`).
    Refused,
}

impl ErrorKind {
    /// The reply's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Refused => "refused",
        }
    }

    /// Reads the reply's spelling.
    pub fn from_wire(kind: &str) -> Option<ErrorKind> {
        match kind {
            "usage" => Some(ErrorKind::Usage),
            "refused" => Some(ErrorKind::Refused),
            _ => None,
        }
    }
}

/// The answer to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The answer to `status`.
    Status(Status),
    /// The answer to a fault command: the node after the change.
    Node(NodeStatus),
    /// The answer to `shutdown`.
    ShuttingDown,
    /// The request failed.
    Error { kind: ErrorKind, message: String },
}

impl Reply {
    fn usage(message: impl Into<String>) -> Reply {
        Reply::Error {
            kind: ErrorKind::Usage,
            message: message.into(),
        }
    }

    /// The reply as a JSON object (module docs).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Reply::Status(status) => {
                json!({ "ok": true, "config": status.config, "nodes": status.nodes })
            }
            Reply::Node(node) => json!({ "ok": true, "node": node }),
            Reply::ShuttingDown => json!({ "ok": true, "shutdown": true }),
            Reply::Error { kind, message } => {
                json!({ "ok": false, "kind": kind.as_str(), "error": message })
            }
        }
    }

    /// The reply's line, newline included.
    pub fn to_line(&self) -> String {
        let mut line = self.to_json().to_string();
        line.push('\n');
        line
    }
}

/// The fabric's configuration, as `status` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigStatus {
    pub nodes: usize,
    pub ram_mib: u64,
    pub lut_slots: u32,
    pub slot_shift: u32,
    pub in_windows: u32,
    pub dma_channels: u32,
    /// Each multicast group's members, in ascending order.
    pub multicast: Vec<Vec<usize>>,
    pub direct: bool,
    /// Whether the adapters name the direct window's memory alias.
    pub direct_alias: bool,
    /// log2 of a node's span in BAR4 and in the fabric memory file.
    pub direct_shift: u32,
    /// The expansion chassis nodes, in ascending order.
    pub chassis: Vec<usize>,
}

/// One node's faults, as `status` reports them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultStatus {
    pub link_down: bool,
    pub killed: bool,
    pub latency_us: u32,
    pub drop_doorbells: bool,
    pub stall_mmio: bool,
}

/// One node's counters, as `status` reports them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CounterStatus {
    pub tx: u64,
    pub errors: u64,
    pub refused: u64,
    pub dma_bytes: u64,
    pub db_tx: u64,
    pub db_rx: u64,
    pub rmmio: u64,
    pub db_dropped: u64,
}

/// One node's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    pub id: usize,
    /// A VM is connected and the node has not been killed.
    pub present: bool,
    /// The node's driver set `LINK_CTRL.ENABLE`.
    pub link_enabled: bool,
    /// The node's `LINK_STATUS` register.
    pub link_status: u32,
    pub faults: FaultStatus,
    pub counters: CounterStatus,
    /// A chassis node's chassis state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chassis: Option<ChassisStatus>,
}

/// A chassis node's state, as `status` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChassisStatus {
    pub powered: bool,
    /// The management block's `GENERATION`.
    pub generation: u32,
    /// Claimed slots (device number) and their owner node.
    pub owners: std::collections::BTreeMap<usize, usize>,
}

/// The whole fabric's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    pub config: ConfigStatus,
    pub nodes: Vec<NodeStatus>,
}

impl Status {
    /// A snapshot of `fabric`.
    pub fn of(fabric: &Fabric) -> Status {
        let c = fabric.config();
        let members = |bitmap: u16| (0..16).filter(|n| bitmap & (1 << n) != 0).collect();
        Status {
            config: ConfigStatus {
                nodes: c.nodes,
                ram_mib: c.ram_bytes >> 20,
                lut_slots: c.lut_slots,
                slot_shift: c.slot_shift,
                in_windows: c.in_windows,
                dma_channels: c.dma_channels,
                multicast: c.multicast.iter().map(|&g| members(g)).collect(),
                direct: c.direct,
                direct_alias: c.direct_alias,
                direct_shift: c.direct_shift(),
                chassis: members(c.chassis),
            },
            nodes: fabric
                .nodes()
                .iter()
                .map(|node| NodeStatus::of(fabric, node))
                .collect(),
        }
    }
}

impl NodeStatus {
    /// A snapshot of `node` of `fabric`.
    pub fn of(fabric: &Fabric, node: &Node) -> NodeStatus {
        let f = &node.faults;
        let c = &node.counters;
        NodeStatus {
            id: node.id(),
            present: node.present(),
            link_enabled: node.link_enabled(),
            link_status: fabric.link_status(node.id()),
            faults: FaultStatus {
                link_down: f.link_down.load(Ordering::SeqCst),
                killed: f.killed.load(Ordering::SeqCst),
                latency_us: f.latency_us.load(Ordering::SeqCst),
                drop_doorbells: f.drop_doorbells.load(Ordering::SeqCst),
                stall_mmio: f.stall_mmio.load(Ordering::SeqCst),
            },
            counters: CounterStatus {
                tx: c.tx.load(Ordering::Relaxed),
                errors: c.errors.load(Ordering::Relaxed),
                refused: c.refused.load(Ordering::Relaxed),
                dma_bytes: c.dma_bytes.load(Ordering::Relaxed),
                db_tx: c.db_tx.load(Ordering::Relaxed),
                db_rx: c.db_rx.load(Ordering::Relaxed),
                rmmio: c.rmmio.load(Ordering::Relaxed),
                db_dropped: c.db_dropped.load(Ordering::Relaxed),
            },
            chassis: fabric.chassis(node.id()).map(|ch| ChassisStatus {
                powered: ch.powered(),
                generation: ch.generation(),
                owners: ch.owners_map(),
            }),
        }
    }
}

/// Carries out `request` on `fabric`. `shutdown` only answers: stopping is
/// the server's business.
pub fn execute(fabric: &Fabric, request: &Request) -> Reply {
    let Some(id) = request.node() else {
        return match request {
            Request::Shutdown => Reply::ShuttingDown,
            _ => Reply::Status(Status::of(fabric)),
        };
    };
    let Some(node) = fabric.node(id) else {
        let message = format!(
            "no node {id}: the fabric has nodes 0..={}",
            fabric.nodes().len().saturating_sub(1)
        );
        return Reply::Error {
            kind: ErrorKind::Refused,
            message,
        };
    };
    match *request {
        Request::SetLinkDown { down, .. } => fabric.set_link_down(id, down),
        Request::SetKilled { killed, .. } => fabric.set_killed(id, killed),
        Request::SetLatency { us, .. } => node.faults.latency_us.store(us, Ordering::SeqCst),
        Request::SetDropDoorbells { drop, .. } => {
            node.faults.drop_doorbells.store(drop, Ordering::SeqCst)
        }
        Request::SetStallMmio { stall, .. } => {
            node.faults.stall_mmio.store(stall, Ordering::SeqCst)
        }
        Request::ChassisPower { on, .. } => {
            if let Err(message) = fabric.chassis_power(id, on) {
                return Reply::Error {
                    kind: ErrorKind::Refused,
                    message,
                };
            }
        }
        Request::SlotPower { dev, on, .. } => {
            if let Err(message) = fabric.slot_power(id, dev, on) {
                return Reply::Error {
                    kind: ErrorKind::Refused,
                    message,
                };
            }
        }
        Request::Status | Request::Shutdown => {}
    }
    Reply::Node(NodeStatus::of(fabric, node))
}

/// What the server does with one request line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The request, if the line was one.
    pub request: Option<Request>,
    /// The reply to send.
    pub reply: Reply,
}

impl Response {
    /// Whether the server must stop once the reply is sent.
    pub fn shutdown(&self) -> bool {
        self.request == Some(Request::Shutdown)
    }
}

/// Answers one request line (without its newline): parses it and carries
/// it out. Never fails: a bad line gets an error reply.
pub fn respond(fabric: &Fabric, line: &[u8]) -> Response {
    let reply_to = |request: Result<Request, String>| match request {
        Ok(request) => Response {
            request: Some(request),
            reply: execute(fabric, &request),
        },
        Err(message) => Response {
            request: None,
            reply: Reply::usage(message),
        },
    };
    if line.len() > MAX_REQUEST_LEN {
        return reply_to(Err(format!("request longer than {MAX_REQUEST_LEN} bytes")));
    }
    match std::str::from_utf8(line) {
        Ok(text) => reply_to(Request::parse(text).map_err(|e| e.0)),
        Err(_) => reply_to(Err("request is not UTF-8 text".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fabric::FabricConfig;
    use std::sync::Arc;

    fn fabric(nodes: usize) -> Arc<Fabric> {
        use std::sync::atomic::AtomicUsize;
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "rsio-control-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // One multicast group: the first and the last node.
        let multicast = vec![1 | 1 << (nodes - 1)];
        let config = FabricConfig {
            nodes,
            ram_bytes: 16 << 20,
            multicast,
            ..Default::default()
        };
        Fabric::new(config, &path).unwrap()
    }

    fn usage_error(line: &str) -> String {
        match Request::parse(line) {
            Err(e) => e.to_string(),
            Ok(r) => panic!("`{line}` parsed as {r:?}"),
        }
    }

    #[test]
    fn every_command_parses() {
        let cases = [
            ("status", Request::Status),
            ("shutdown", Request::Shutdown),
            (
                "link-down 1",
                Request::SetLinkDown {
                    node: 1,
                    down: true,
                },
            ),
            (
                "link-up 1",
                Request::SetLinkDown {
                    node: 1,
                    down: false,
                },
            ),
            (
                "kill 0",
                Request::SetKilled {
                    node: 0,
                    killed: true,
                },
            ),
            (
                "revive 0",
                Request::SetKilled {
                    node: 0,
                    killed: false,
                },
            ),
            ("latency 2 500", Request::SetLatency { node: 2, us: 500 }),
            ("latency 2 0", Request::SetLatency { node: 2, us: 0 }),
            (
                "drop-doorbells 3 on",
                Request::SetDropDoorbells {
                    node: 3,
                    drop: true,
                },
            ),
            (
                "drop-doorbells 3 off",
                Request::SetDropDoorbells {
                    node: 3,
                    drop: false,
                },
            ),
            (
                "stall-mmio 1 on",
                Request::SetStallMmio {
                    node: 1,
                    stall: true,
                },
            ),
            (
                "stall-mmio 1 off",
                Request::SetStallMmio {
                    node: 1,
                    stall: false,
                },
            ),
            (
                "chassis-power 2 off",
                Request::ChassisPower { node: 2, on: false },
            ),
            (
                "chassis-power 2 on",
                Request::ChassisPower { node: 2, on: true },
            ),
            (
                "slot-power 2 4 off",
                Request::SlotPower {
                    node: 2,
                    dev: 4,
                    on: false,
                },
            ),
            (
                "slot-power 0 31 on",
                Request::SlotPower {
                    node: 0,
                    dev: 31,
                    on: true,
                },
            ),
        ];
        for (line, request) in cases {
            assert_eq!(Request::parse(line), Ok(request), "{line}");
            assert_eq!(request.to_string(), line, "a request prints as its line");
        }
    }

    #[test]
    fn blanks_around_and_between_words_do_not_matter() {
        assert_eq!(
            Request::parse("  latency\t1   20 \r"),
            Ok(Request::SetLatency { node: 1, us: 20 })
        );
    }

    #[test]
    fn malformed_requests_say_what_is_wrong() {
        assert!(usage_error("").contains("empty request"));
        assert!(usage_error("frobnicate 1").contains("unknown command `frobnicate`"));
        assert!(
            usage_error("Status").contains("unknown command"),
            "commands are case-sensitive"
        );
        assert!(usage_error("status now").contains("usage: status"));
        assert!(usage_error("link-down").contains("usage: link-down N"));
        assert!(usage_error("kill 1 2").contains("usage: kill N"));
        assert!(usage_error("link-up one").contains("`one` is not a node id"));
        assert!(usage_error("revive -1").contains("`-1` is not a node id"));
        assert!(usage_error("kill 99999999999999999999999").contains("not a node id"));
        assert!(usage_error("latency 1").contains("usage: latency N US"));
        assert!(usage_error("latency 1 fast").contains("`fast` is not a latency"));
        assert!(usage_error("latency 1 1000001").contains("0..=1000000"));
        assert!(usage_error("drop-doorbells 1 yes").contains("`yes` is neither on nor off"));
        assert!(usage_error("chassis-power 1").contains("usage: chassis-power N on|off"));
        assert!(usage_error("chassis-power 1 maybe").contains("neither on nor off"));
        assert!(usage_error("slot-power 1 4").contains("usage: slot-power N D on|off"));
        assert!(usage_error("slot-power 1 32 on").contains("not a device number"));
        assert!(
            usage_error("status\nshutdown").contains("usage: status"),
            "one line, one request"
        );
    }

    #[test]
    fn status_reports_the_configuration_and_every_node() {
        let fabric = fabric(3);
        let reply = respond(&fabric, b"status").reply.to_json();
        assert_eq!(reply["ok"], true);
        assert_eq!(
            reply["config"],
            json!({
                "nodes": 3, "ram_mib": 16, "lut_slots": 64, "slot_shift": 21, "in_windows": 32,
                "dma_channels": 2, "multicast": [[0, 2]], "direct": true, "direct_alias": true,
                "direct_shift": 24, "chassis": []
            })
        );
        let nodes = reply["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 3);
        assert_eq!(
            nodes[2],
            json!({
                "id": 2, "present": false, "link_enabled": false, "link_status": 0,
                "faults": { "link_down": false, "killed": false, "latency_us": 0, "drop_doorbells": false,
                            "stall_mmio": false },
                "counters": { "tx": 0, "errors": 0, "refused": 0, "dma_bytes": 0,
                              "db_tx": 0, "db_rx": 0, "rmmio": 0, "db_dropped": 0 }
            })
        );
    }

    #[test]
    fn fault_commands_change_the_fabric_and_report_the_node() {
        let fabric = fabric(2);
        let node = |line: &str| {
            let reply = respond(&fabric, line.as_bytes()).reply.to_json();
            assert_eq!(reply["ok"], true, "{line}: {reply}");
            reply["node"]["faults"].clone()
        };
        assert_eq!(node("link-down 1")["link_down"], true);
        assert!(fabric
            .node(1)
            .unwrap()
            .faults
            .link_down
            .load(Ordering::SeqCst));
        assert_eq!(node("link-up 1")["link_down"], false);
        assert_eq!(node("kill 0")["killed"], true);
        assert_eq!(node("revive 0")["killed"], false);
        assert_eq!(node("latency 1 250")["latency_us"], 250);
        assert_eq!(
            fabric
                .node(1)
                .unwrap()
                .faults
                .latency_us
                .load(Ordering::SeqCst),
            250
        );
        assert_eq!(node("drop-doorbells 0 on")["drop_doorbells"], true);
        assert_eq!(node("drop-doorbells 0 off")["drop_doorbells"], false);
        assert_eq!(node("stall-mmio 1 on")["stall_mmio"], true);
        assert!(fabric
            .node(1)
            .unwrap()
            .faults
            .stall_mmio
            .load(Ordering::SeqCst));
        assert_eq!(node("stall-mmio 1 off")["stall_mmio"], false);
    }

    #[test]
    fn a_node_outside_the_fabric_is_refused() {
        let fabric = fabric(2);
        let reply = respond(&fabric, b"kill 2").reply;
        assert_eq!(
            reply,
            Reply::Error {
                kind: ErrorKind::Refused,
                message: "no node 2: the fabric has nodes 0..=1".into()
            }
        );
        assert_eq!(
            reply.to_json(),
            json!({ "ok": false, "kind": "refused", "error": "no node 2: the fabric has nodes 0..=1" })
        );
    }

    #[test]
    fn lines_that_are_not_requests_get_usage_errors() {
        let fabric = fabric(2);
        let kind = |line: &[u8]| match respond(&fabric, line).reply {
            Reply::Error { kind, message } => (kind, message),
            other => panic!("{line:?} got {other:?}"),
        };
        assert_eq!(
            kind(b"\xff\xfe status"),
            (ErrorKind::Usage, "request is not UTF-8 text".into())
        );
        let long = vec![b'x'; MAX_REQUEST_LEN + 1];
        assert_eq!(
            kind(&long),
            (ErrorKind::Usage, "request longer than 1024 bytes".into())
        );
        assert_eq!(kind(b"\0").0, ErrorKind::Usage);
    }

    #[test]
    fn only_shutdown_stops_the_server() {
        let fabric = fabric(2);
        let shutdown = respond(&fabric, b"shutdown");
        assert!(shutdown.shutdown());
        assert_eq!(
            shutdown.reply.to_json(),
            json!({ "ok": true, "shutdown": true })
        );
        assert!(!respond(&fabric, b"status").shutdown());
        assert!(!respond(&fabric, b"shutdown now").shutdown());
    }

    #[test]
    fn every_reply_is_one_line() {
        let fabric = fabric(2);
        for line in [
            "status",
            "kill 1",
            "kill 7",
            "bogus \"quoted\"\ttext",
            "shutdown",
        ] {
            let reply = respond(&fabric, line.as_bytes()).reply.to_line();
            assert_eq!(reply.matches('\n').count(), 1, "{reply}");
            assert!(reply.ends_with('\n'));
        }
    }
}
