//! `rsio segments`: the SISCI segments of this node (rsio_sisci).

use crate::device::Device;
use crate::format::{node_list, size, Align, Table};
use crate::Ctx;
use anyhow::Result;
use rsio_uapi::sisci as abi;
use serde_json::{json, Value};

pub const LONG: &str = "\
List this node's SISCI segments (SISCI_IOC_SEG_LIST on /dev/sisci, served by
rsio_sisci): the local segments programs created and their connections to
remote segments, whoever made them. A segment belongs to the file it was
made through and disappears when that closes.

Columns: KIND local (memory of this node) or remote (a connection to a
peer's segment), mc for multicast; NODE the owner; ID the segment id peers
connect to (for multicast: the group); HANDLE the handle in its file;
SIZE; STATE prepared, available or lost (a connection whose owner removed
the segment or died); CONNECTED the peers connected to a local segment; PID
and UID of the process that made it.

Needs only access to /dev/sisci.";

pub const AFTER: &str = "\
EXAMPLES:
    $ rsio segments
    KIND    NODE  ID  HANDLE  SIZE  STATE      CONNECTED  PID  UID
    local      1   7       3    1M  available  0          812    0
    remote     0  12       5   64K  -          -          815    0

EXIT STATUS:
    0   the list was read
    1   /dev/sisci cannot be opened (rsio_sisci not loaded) or the ioctl failed
    2   usage error";

// SAFETY: `SisciSegEntry` is `repr(C)` of integers, and SISCI_IOC_SEG_LIST lists `SisciSegEntry` elements.
unsafe impl crate::device::ListEntry for abi::SisciSegEntry {
    const CMD: u32 = abi::SISCI_IOC_SEG_LIST;
    const NAME: &'static str = "SISCI_IOC_SEG_LIST";
    const GUESS: u32 = 32;
}

/// `rsio segments`.
pub fn run(ctx: &Ctx) -> Result<()> {
    let dev = Device::open(abi::SISCI_DEVICE_PATH)?;
    let segs = dev.list::<abi::SisciSegEntry>()?;
    if ctx.json {
        println!("{}", Value::Array(segs.iter().map(seg_json).collect()));
    } else {
        print!("{}", segments_table(&segs));
    }
    Ok(())
}

fn kind(e: &abi::SisciSegEntry) -> &'static str {
    match (e.kind, e.state & abi::SISCI_STATE_MULTICAST != 0) {
        (abi::SISCI_ENTRY_LOCAL, false) => "local",
        (abi::SISCI_ENTRY_LOCAL, true) => "local-mc",
        (_, false) => "remote",
        (_, true) => "remote-mc",
    }
}

fn state(e: &abi::SisciSegEntry) -> String {
    let mut v = Vec::new();
    if e.state & abi::SISCI_STATE_LOST != 0 {
        v.push("lost");
    }
    if e.state & abi::SISCI_STATE_AVAILABLE != 0 {
        v.push("available");
    } else if e.state & abi::SISCI_STATE_PREPARED != 0 {
        v.push("prepared");
    }
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

/// The table of `rsio segments`.
pub fn segments_table(segs: &[abi::SisciSegEntry]) -> String {
    let mut t = Table::new(&[
        ("KIND", Align::Left),
        ("NODE", Align::Right),
        ("ID", Align::Right),
        ("HANDLE", Align::Right),
        ("SIZE", Align::Right),
        ("STATE", Align::Left),
        ("CONNECTED", Align::Left),
        ("PID", Align::Right),
        ("UID", Align::Right),
    ]);
    for e in segs {
        t.row(vec![
            kind(e).into(),
            e.node.to_string(),
            e.segment_id.to_string(),
            e.handle.to_string(),
            size(e.size),
            state(e),
            if e.kind == abi::SISCI_ENTRY_LOCAL {
                node_list(e.connected)
            } else {
                "-".into()
            },
            e.pid.to_string(),
            e.uid.to_string(),
        ]);
    }
    t.render()
}

/// One element of `rsio segments --json`.
pub fn seg_json(e: &abi::SisciSegEntry) -> Value {
    json!({
        "kind": kind(e),
        "node": e.node,
        "segment_id": e.segment_id,
        "handle": e.handle,
        "size": e.size,
        "state": state(e),
        "connected": crate::format::mask_nodes(e.connected),
        "pid": e.pid,
        "uid": e.uid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_kind_state_and_peers() {
        let e = abi::SisciSegEntry {
            kind: abi::SISCI_ENTRY_LOCAL,
            state: abi::SISCI_STATE_PREPARED | abi::SISCI_STATE_AVAILABLE,
            node: 1,
            segment_id: 7,
            handle: 3,
            connected: 0b101,
            size: 1 << 20,
            pid: 812,
            uid: 0,
        };
        let r = abi::SisciSegEntry {
            kind: abi::SISCI_ENTRY_REMOTE,
            state: abi::SISCI_STATE_LOST,
            node: 0,
            ..e
        };
        let t = segments_table(&[e, r]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("KIND"));
        assert!(
            lines[1].contains("local")
                && lines[1].contains("available")
                && lines[1].contains("0,2")
                && lines[1].contains("1M")
        );
        assert!(lines[2].contains("remote") && lines[2].contains("lost"));
        assert_eq!(seg_json(&e)["connected"], json!([0, 2]));
    }
}
