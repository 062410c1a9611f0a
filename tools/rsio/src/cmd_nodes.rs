//! `rsio nodes`: the fabric's nodes as this node's core sees them.

use crate::format::{cstr, duration_ms, peer_cap_names, state_name, Align, Table};
use crate::Ctx;
use anyhow::Result;
use rsio_uapi as uapi;
use serde_json::{json, Value};

pub const LONG: &str = "\
List the fabric's nodes (RSIO_IOC_NODES), this one included, as this node's
fabric core sees them.

Columns: NODE the fabric node id; STATE self (this node), down (no link, or
no core answered yet), hello (hello sent, waiting for the peer's core), up
(the peer's core answered and is alive), dead (it stopped answering; its
resources are being released, then it is down); LINK whether the link to it
is up; NAME its node name from its hello; VERSION its message protocol
version; UP-FOR how long it has been up; LAST-HEARD how long ago a message or
heartbeat from it arrived; TX and RX the messages sent to it and accepted
from it.

Needs only access to /dev/rsio.";

pub const AFTER: &str = "\
EXAMPLES:
    $ rsio nodes
    NODE  STATE  LINK  NAME   VERSION  UP-FOR  LAST-HEARD    TX    RX
       0  up     up    node0        1   5m03s    40ms ago  3120  3118
       1  self   up    node1        1       -           -     0     0
       2  down   down  -            -       -       never     0     0

    $ rsio nodes --json | jq -r '.[] | select(.state == \"up\") | .node'
    0

EXIT STATUS:
    0   the list was read
    1   the device cannot be opened or the ioctl failed
    2   usage error";

/// `rsio nodes`.
pub fn run(ctx: &Ctx) -> Result<()> {
    let dev = ctx.open()?;
    let nodes = dev.nodes()?;
    if ctx.json {
        let list: Vec<Value> = nodes.iter().map(node_json).collect();
        println!("{}", Value::Array(list));
    } else if nodes.is_empty() {
        println!("no fabric nodes (the fabric core has no transport: see rsio status)");
    } else {
        print!("{}", nodes_table(&nodes));
    }
    Ok(())
}

fn last_heard(n: &uapi::RsioNodeEntry) -> String {
    match (n.state, n.last_heard_ms) {
        (uapi::RSIO_NODE_SELF, _) => "-".into(),
        (_, u64::MAX) => "never".into(),
        (_, ms) => format!("{} ago", duration_ms(ms)),
    }
}

fn dash_if_empty(s: String) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}

/// The table of `rsio nodes`.
pub fn nodes_table(nodes: &[uapi::RsioNodeEntry]) -> String {
    let mut t = Table::new(&[
        ("NODE", Align::Right),
        ("STATE", Align::Left),
        ("LINK", Align::Left),
        ("NAME", Align::Left),
        ("VERSION", Align::Right),
        ("UP-FOR", Align::Right),
        ("LAST-HEARD", Align::Right),
        ("TX", Align::Right),
        ("RX", Align::Right),
    ]);
    for n in nodes {
        let up_for = if n.state == uapi::RSIO_NODE_UP {
            duration_ms(n.up_ms)
        } else {
            "-".into()
        };
        let version = match n.proto_version {
            0 => "-".into(),
            v => v.to_string(),
        };
        t.row(vec![
            n.node_id.to_string(),
            state_name(n.state),
            if n.link_up != 0 { "up" } else { "down" }.into(),
            dash_if_empty(cstr(&n.name)),
            version,
            up_for,
            last_heard(n),
            n.msgs_tx.to_string(),
            n.msgs_rx.to_string(),
        ]);
    }
    t.render()
}

/// One element of `rsio nodes --json`.
pub fn node_json(n: &uapi::RsioNodeEntry) -> Value {
    json!({
        "node": n.node_id,
        "state": state_name(n.state),
        "self": n.state == uapi::RSIO_NODE_SELF,
        "link_up": n.link_up != 0,
        "name": cstr(&n.name),
        "proto_version": n.proto_version,
        "caps": n.caps,
        "cap_names": peer_cap_names(n.caps),
        "up_count": n.up_count,
        "up_ms": if n.state == uapi::RSIO_NODE_UP { json!(n.up_ms) } else { Value::Null },
        "last_heard_ms": if n.last_heard_ms == u64::MAX { Value::Null } else { json!(n.last_heard_ms) },
        "msgs_tx": n.msgs_tx,
        "msgs_rx": n.msgs_rx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(node_id: u32, state: u32, name: &str) -> uapi::RsioNodeEntry {
        let mut n = uapi::RsioNodeEntry {
            node_id,
            state,
            link_up: 0,
            proto_version: 0,
            caps: 0,
            up_count: 0,
            up_ms: 0,
            last_heard_ms: u64::MAX,
            msgs_tx: 0,
            msgs_rx: 0,
            name: [0; uapi::RSIO_NAME_LEN],
        };
        uapi::copy_cstr(&mut n.name, name.as_bytes());
        n
    }

    fn sample() -> Vec<uapi::RsioNodeEntry> {
        let mut up = entry(0, uapi::RSIO_NODE_UP, "node0");
        up.link_up = 1;
        up.proto_version = 1;
        up.caps = uapi::RSIO_PEER_CAP_GRANTS;
        up.up_count = 1;
        up.up_ms = 303_000;
        up.last_heard_ms = 40;
        up.msgs_tx = 3120;
        up.msgs_rx = 3118;
        let mut me = entry(1, uapi::RSIO_NODE_SELF, "node1");
        me.link_up = 1;
        me.proto_version = 1;
        me.last_heard_ms = 0;
        let down = entry(2, uapi::RSIO_NODE_DOWN, "");
        vec![up, me, down]
    }

    #[test]
    fn the_table_marks_this_node_self_and_shows_durations() {
        assert_eq!(
            nodes_table(&sample()),
            "\
NODE  STATE  LINK  NAME   VERSION  UP-FOR  LAST-HEARD    TX    RX
   0  up     up    node0        1   5m03s    40ms ago  3120  3118
   1  self   up    node1        1       -           -     0     0
   2  down   down  -            -       -       never     0     0
"
        );
    }

    #[test]
    fn a_dead_node_has_no_up_time_but_a_last_heard() {
        let mut n = entry(3, uapi::RSIO_NODE_DEAD, "node3");
        n.up_ms = 999;
        n.last_heard_ms = 2500;
        let table = nodes_table(&[n]);
        let row = table.lines().nth(1).unwrap();
        assert_eq!(
            row,
            "   3  dead   down  node3        -       -    2.5s ago   0   0"
        );
    }

    #[test]
    fn json_elements_name_states_and_use_null_for_never() {
        let nodes = sample();
        let j: Vec<Value> = nodes.iter().map(node_json).collect();
        assert_eq!(j[0]["node"], 0);
        assert_eq!(j[0]["state"], "up");
        assert_eq!(j[0]["self"], false);
        assert_eq!(j[0]["link_up"], true);
        assert_eq!(j[0]["up_ms"], 303_000);
        assert_eq!(j[0]["last_heard_ms"], 40);
        assert_eq!(j[0]["cap_names"], json!(["grants"]));
        assert_eq!(j[1]["state"], "self");
        assert_eq!(j[1]["self"], true);
        assert_eq!(j[1]["up_ms"], Value::Null);
        assert_eq!(j[2]["state"], "down");
        assert_eq!(j[2]["last_heard_ms"], Value::Null);
        assert_eq!(j[2]["name"], "");
    }

    #[test]
    fn json_elements_have_the_documented_keys() {
        let j = node_json(&sample()[0]);
        let mut keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "cap_names",
                "caps",
                "last_heard_ms",
                "link_up",
                "msgs_rx",
                "msgs_tx",
                "name",
                "node",
                "proto_version",
                "self",
                "state",
                "up_count",
                "up_ms"
            ]
        );
    }

    #[test]
    fn the_help_example_is_real_output() {
        for line in nodes_table(&sample()).lines() {
            assert!(
                AFTER.contains(&format!("    {line}\n")),
                "help lacks: {line}"
            );
        }
    }
}
