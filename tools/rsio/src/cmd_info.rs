//! `rsio version` and `rsio status`: what is loaded and how the fabric looks
//! from this node.

use crate::format::{cstr, duration_ms, mask_nodes, node_list, transport_name};
use crate::Ctx;
use anyhow::Result;
use rsio_uapi as uapi;
use serde_json::{json, Value};

pub const VERSION_LONG: &str = "\
Show the loaded modules' ABI version, release and features, next to this
tool's. The tool refuses to talk to modules of another ABI major version.";

pub const VERSION_AFTER: &str = "\
EXAMPLES:
    $ rsio version
    rsio modules 0.1.0 (ABI 1.0) on kernel 7.3.0-rsio
    rsio tool    0.1.0 (ABI 1.0)
    features     fabric

    $ rsio version --json
    {\"abi\":{\"major\":1,\"minor\":0},\"features\":[\"fabric\"],\"kernel_release\":...}

EXIT STATUS:
    0   the modules answered and speak this tool's ABI major version
    1   the device cannot be opened, or the ABI major versions differ
    2   usage error";

pub const STATUS_LONG: &str = "\
Show this node's view of the fabric (RSIO_IOC_STATUS): the transport the
fabric core runs on (none, an rsio adapter, or a generic Linux NTB device),
this node's id and name, which links and which peers' cores are up, the
heartbeat settings, how many outbound translation entries (LUT slots) and
inbound windows are in use, and the message and error counters.

Needs only access to /dev/rsio.";

pub const STATUS_AFTER: &str = "\
EXAMPLES:
    $ rsio status
    transport    adapter 0000:00:03.0 (caps 0x1f)
    node         1 of 3 (node1)
    links up     0,2
    nodes up     0,2
    protocol     1
    heartbeat    100ms, dead after 1.0s
    lut slots    2 of 64 in use
    inbound      3 of 8 in use
    messages     tx 1534, rx 1529, bad 0
    timeouts     0
    refused      0
    errors       0

    $ rsio status --json | jq .nodes_up
    [0, 2]

EXIT STATUS:
    0   the status was read
    1   the device cannot be opened or the ioctl failed
    2   usage error";

/// `rsio version`.
pub fn version(ctx: &Ctx) -> Result<()> {
    let dev = ctx.open()?;
    let v = dev.version()?;
    let release = cstr(&v.release);
    let kernel = cstr(&v.kernel_release);
    let features = feature_names(v.features);
    if ctx.json {
        let j = json!({
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

/// `rsio status`.
pub fn status(ctx: &Ctx) -> Result<()> {
    let dev = ctx.open()?;
    let s = dev.status()?;
    if ctx.json {
        println!("{}", status_json(&s));
    } else {
        print!("{}", status_text(&s));
    }
    Ok(())
}

/// The JSON object of `rsio status --json`.
pub fn status_json(s: &uapi::RsioStatus) -> Value {
    let bound = s.transport != uapi::RSIO_TRANSPORT_NONE;
    json!({
        "transport": transport_name(s.transport),
        "node_id": if bound { json!(s.node_id) } else { Value::Null },
        "num_nodes": s.num_nodes,
        "node_name": cstr(&s.node_name),
        "adapter": cstr(&s.adapter),
        "caps": s.caps,
        "proto_version": s.proto_version,
        "link_mask": s.link_mask,
        "links_up": mask_nodes(s.link_mask),
        "up_mask": s.up_mask,
        "nodes_up": mask_nodes(s.up_mask),
        "heartbeat_ms": s.heartbeat_ms,
        "dead_after_ms": s.dead_after_ms,
        "lut": { "total": s.lut_total, "used": s.lut_used },
        "inbound": { "total": s.inbound_total, "used": s.inbound_used },
        "msgs": { "tx": s.msgs_tx, "rx": s.msgs_rx, "bad": s.msgs_bad },
        "timeouts": s.timeouts,
        "refused": s.refused,
        "errors": s.errors,
    })
}

/// The text of `rsio status`: one `label  value` line per item.
pub fn status_text(s: &uapi::RsioStatus) -> String {
    let mut lines: Vec<(&str, String)> = Vec::new();
    let transport = transport_name(s.transport);
    let adapter = cstr(&s.adapter);
    let name = cstr(&s.node_name);
    let name = if name.is_empty() { "-".into() } else { name };
    match s.transport {
        uapi::RSIO_TRANSPORT_NONE => {
            lines.push((
                "transport",
                "none (no rsio adapter or NTB device is bound)".into(),
            ));
            lines.push(("node", format!("- ({name})")));
        }
        _ => {
            let mut t = transport;
            if !adapter.is_empty() {
                t += &format!(" {adapter}");
            }
            if s.transport == uapi::RSIO_TRANSPORT_ADAPTER {
                t += &format!(" (caps {:#x})", s.caps);
            }
            lines.push(("transport", t));
            lines.push(("node", format!("{} of {} ({name})", s.node_id, s.num_nodes)));
        }
    }
    lines.push(("links up", node_list(s.link_mask)));
    lines.push(("nodes up", node_list(s.up_mask)));
    lines.push(("protocol", s.proto_version.to_string()));
    lines.push((
        "heartbeat",
        format!(
            "{}, dead after {}",
            duration_ms(s.heartbeat_ms.into()),
            duration_ms(s.dead_after_ms.into())
        ),
    ));
    lines.push((
        "lut slots",
        format!("{} of {} in use", s.lut_used, s.lut_total),
    ));
    lines.push((
        "inbound",
        format!("{} of {} in use", s.inbound_used, s.inbound_total),
    ));
    lines.push((
        "messages",
        format!("tx {}, rx {}, bad {}", s.msgs_tx, s.msgs_rx, s.msgs_bad),
    ));
    lines.push(("timeouts", s.timeouts.to_string()));
    lines.push(("refused", s.refused.to_string()));
    lines.push(("errors", s.errors.to_string()));
    lines
        .iter()
        .map(|(label, value)| format!("{label:<12} {value}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use uapi::Request;

    fn sample() -> uapi::RsioStatus {
        let mut s = uapi::RsioStatus::request();
        s.transport = uapi::RSIO_TRANSPORT_ADAPTER;
        s.node_id = 1;
        s.num_nodes = 3;
        s.link_mask = 0b101;
        s.up_mask = 0b001;
        s.proto_version = 1;
        s.caps = 0x1f;
        s.heartbeat_ms = 100;
        s.dead_after_ms = 1000;
        s.lut_total = 64;
        s.lut_used = 2;
        s.inbound_total = 8;
        s.inbound_used = 3;
        s.msgs_tx = 1534;
        s.msgs_rx = 1529;
        s.refused = 4;
        uapi::copy_cstr(&mut s.adapter, b"0000:00:03.0");
        uapi::copy_cstr(&mut s.node_name, b"node1");
        s
    }

    #[test]
    fn features_are_named_and_unknown_bits_shown_in_hex() {
        assert_eq!(feature_names(uapi::RSIO_FEATURE_FABRIC), ["fabric"]);
        assert_eq!(feature_names(0b101), ["fabric", "unknown:0x4"]);
    }

    #[test]
    fn status_text_shows_masks_as_node_lists() {
        assert_eq!(
            status_text(&sample()),
            "\
transport    adapter 0000:00:03.0 (caps 0x1f)
node         1 of 3 (node1)
links up     0,2
nodes up     0
protocol     1
heartbeat    100ms, dead after 1.0s
lut slots    2 of 64 in use
inbound      3 of 8 in use
messages     tx 1534, rx 1529, bad 0
timeouts     0
refused      4
errors       0
"
        );
    }

    #[test]
    fn status_text_without_a_transport_says_so() {
        let mut s = uapi::RsioStatus::request();
        uapi::copy_cstr(&mut s.node_name, b"lonely");
        let text = status_text(&s);
        assert!(text.starts_with(
            "transport    none (no rsio adapter or NTB device is bound)\nnode         - (lonely)\n"
        ));
        assert!(text.contains("links up     -\n"));
    }

    #[test]
    fn status_json_has_masks_as_numbers_and_lists() {
        let j = status_json(&sample());
        assert_eq!(j["transport"], "adapter");
        assert_eq!(j["node_id"], 1);
        assert_eq!(j["num_nodes"], 3);
        assert_eq!(j["node_name"], "node1");
        assert_eq!(j["adapter"], "0000:00:03.0");
        assert_eq!(j["link_mask"], 5);
        assert_eq!(j["links_up"], json!([0, 2]));
        assert_eq!(j["nodes_up"], json!([0]));
        assert_eq!(j["lut"], json!({"total": 64, "used": 2}));
        assert_eq!(j["inbound"], json!({"total": 8, "used": 3}));
        assert_eq!(j["msgs"], json!({"tx": 1534, "rx": 1529, "bad": 0}));
        assert_eq!(j["refused"], 4);
    }

    #[test]
    fn status_json_without_a_transport_has_no_node_id() {
        let j = status_json(&uapi::RsioStatus::request());
        assert_eq!(j["transport"], "none");
        assert_eq!(j["node_id"], Value::Null);
    }
}
