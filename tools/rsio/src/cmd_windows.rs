//! `rsio windows`: the fabric core's mappings, grants and mailbox.

use crate::format::{hex, mask_nodes, node_list, size, window_kind_name, Align, Table};
use crate::Ctx;
use anyhow::Result;
use rsio_uapi as uapi;
use serde_json::{json, Value};

pub const LONG: &str = "\
List the fabric core's windows (RSIO_IOC_WINDOWS): every process's mappings
of peer memory and grants of local memory, and the core's own message
mailbox. Windows belong to the file they were made through: they disappear
when it closes.

Columns: ID what UNMAP/REVOKE/WINDOW_IO take (0: the mailbox); KIND map (an
outbound mapping of a peer's memory), grant (local memory peers may reach) or
mailbox; NODE the peer for a map, this node otherwise; PEERS the nodes a grant
or the mailbox lets in; FABRIC-ADDR for a map the address in the peer's
space, for a grant what peers pass to map; SIZE; BUS-ADDR the local bus
address (for a map where the CPU and local devices reach the peer memory, for
a grant the local memory); HW the hardware used (lut N-M: outbound
translation entries, in N: inbound window); REFS handles sharing a map's
translation; PID the process that made it (kernel: the core itself).

Needs only access to /dev/rsio.";

pub const AFTER: &str = "\
EXAMPLES:
    $ rsio windows
    ID  KIND     NODE  PEERS  FABRIC-ADDR  SIZE  BUS-ADDR    HW       REFS     PID
     0  mailbox     1  0,2    0x0            4K  0xfe000000  in 0        -  kernel
     3  grant       1  2      0x200000      64K  0x7f3e0000  in 1        -     812
     4  map         0  -      0x100000       4K  0xe0100000  lut 0-1     1     815

    $ rsio windows --json | jq '.[] | select(.kind == \"grant\") | .fabric_addr'
    2097152

EXIT STATUS:
    0   the list was read
    1   the device cannot be opened or the ioctl failed
    2   usage error";

/// `rsio windows`.
pub fn run(ctx: &Ctx) -> Result<()> {
    let dev = ctx.open()?;
    let windows = dev.windows()?;
    if ctx.json {
        let list: Vec<Value> = windows.iter().map(window_json).collect();
        println!("{}", Value::Array(list));
    } else {
        print!("{}", windows_table(&windows));
    }
    Ok(())
}

/// The HW column: outbound translation entries of a map, the inbound
/// window of a grant or the mailbox.
fn hw(w: &uapi::RsioWindowEntry) -> String {
    match (w.kind, w.hw_count) {
        (_, 0) => "-".into(),
        (uapi::RSIO_WINDOW_MAP, 1) => format!("lut {}", w.hw_index),
        (uapi::RSIO_WINDOW_MAP, n) => format!("lut {}-{}", w.hw_index, w.hw_index + n - 1),
        _ => format!("in {}", w.hw_index),
    }
}

fn pid(p: u32) -> String {
    match p {
        0 => "kernel".into(),
        p => p.to_string(),
    }
}

/// The table of `rsio windows`.
pub fn windows_table(windows: &[uapi::RsioWindowEntry]) -> String {
    let mut t = Table::new(&[
        ("ID", Align::Right),
        ("KIND", Align::Left),
        ("NODE", Align::Right),
        ("PEERS", Align::Left),
        ("FABRIC-ADDR", Align::Left),
        ("SIZE", Align::Right),
        ("BUS-ADDR", Align::Left),
        ("HW", Align::Left),
        ("REFS", Align::Right),
        ("PID", Align::Right),
    ]);
    for w in windows {
        let is_map = w.kind == uapi::RSIO_WINDOW_MAP;
        t.row(vec![
            w.id.to_string(),
            window_kind_name(w.kind),
            w.node.to_string(),
            if is_map {
                "-".into()
            } else {
                node_list(w.peers)
            },
            hex(w.fabric_addr),
            size(w.size),
            hex(w.bus_addr),
            hw(w),
            if is_map {
                w.refcount.to_string()
            } else {
                "-".into()
            },
            pid(w.owner_pid),
        ]);
    }
    t.render()
}

/// One element of `rsio windows --json`.
pub fn window_json(w: &uapi::RsioWindowEntry) -> Value {
    json!({
        "id": w.id,
        "kind": window_kind_name(w.kind),
        "node": w.node,
        "peers": mask_nodes(w.peers),
        "peer_mask": w.peers,
        "fabric_addr": w.fabric_addr,
        "size": w.size,
        "bus_addr": w.bus_addr,
        "hw_index": w.hw_index,
        "hw_count": w.hw_count,
        "refcount": w.refcount,
        "owner_pid": w.owner_pid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(id: u32, kind: u32) -> uapi::RsioWindowEntry {
        uapi::RsioWindowEntry {
            id,
            kind,
            node: 1,
            peers: 0,
            refcount: 0,
            owner_pid: 0,
            fabric_addr: 0,
            size: 4096,
            bus_addr: 0,
            hw_index: 0,
            hw_count: 1,
        }
    }

    fn sample() -> Vec<uapi::RsioWindowEntry> {
        let mut mailbox = window(0, uapi::RSIO_WINDOW_MAILBOX);
        mailbox.peers = 0b101;
        mailbox.bus_addr = 0xfe00_0000;
        let mut grant = window(3, uapi::RSIO_WINDOW_GRANT);
        grant.peers = 0b100;
        grant.owner_pid = 812;
        grant.fabric_addr = 0x20_0000;
        grant.size = 64 << 10;
        grant.bus_addr = 0x7f3e_0000;
        grant.hw_index = 1;
        let mut map = window(4, uapi::RSIO_WINDOW_MAP);
        map.node = 0;
        map.refcount = 1;
        map.owner_pid = 815;
        map.fabric_addr = 0x10_0000;
        map.bus_addr = 0xe010_0000;
        map.hw_count = 2;
        vec![mailbox, grant, map]
    }

    #[test]
    fn the_table_shows_peers_for_grants_and_lut_slots_for_maps() {
        assert_eq!(
            windows_table(&sample()),
            "\
ID  KIND     NODE  PEERS  FABRIC-ADDR  SIZE  BUS-ADDR    HW       REFS     PID
 0  mailbox     1  0,2    0x0            4K  0xfe000000  in 0        -  kernel
 3  grant       1  2      0x200000      64K  0x7f3e0000  in 1        -     812
 4  map         0  -      0x100000       4K  0xe0100000  lut 0-1     1     815
"
        );
    }

    #[test]
    fn a_map_of_one_slot_names_it_alone() {
        let mut w = window(5, uapi::RSIO_WINDOW_MAP);
        w.hw_index = 7;
        assert_eq!(hw(&w), "lut 7");
        w.hw_count = 0;
        assert_eq!(hw(&w), "-");
    }

    #[test]
    fn an_empty_list_is_the_header() {
        assert!(windows_table(&[]).starts_with("ID  KIND"));
        assert_eq!(windows_table(&[]).lines().count(), 1);
    }

    #[test]
    fn json_elements_have_kind_names_and_peer_lists() {
        let j: Vec<Value> = sample().iter().map(window_json).collect();
        assert_eq!(j[0]["kind"], "mailbox");
        assert_eq!(j[0]["peers"], json!([0, 2]));
        assert_eq!(j[0]["peer_mask"], 5);
        assert_eq!(j[1]["kind"], "grant");
        assert_eq!(j[1]["fabric_addr"], 0x20_0000);
        assert_eq!(j[1]["size"], 65536);
        assert_eq!(j[1]["owner_pid"], 812);
        assert_eq!(j[2]["kind"], "map");
        assert_eq!(j[2]["peers"], json!([]));
        assert_eq!(j[2]["hw_count"], 2);
    }

    #[test]
    fn the_help_example_is_real_output() {
        for line in windows_table(&sample()).lines() {
            assert!(
                AFTER.contains(&format!("    {line}\n")),
                "help lacks: {line}"
            );
        }
    }
}
