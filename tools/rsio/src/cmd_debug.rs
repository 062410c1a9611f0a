//! Test and debug commands (they need CAP_SYS_ADMIN): `rsio grant`,
//! `rsio poke`, `rsio peek`. Cluster tests use them to move words between
//! nodes through grants and mappings.

use crate::cmd_ping::check_target;
use crate::device::{errno_of, Device};
use crate::format::{
    hex, node_list, parse_byte, parse_expect, parse_node, parse_peers, parse_seconds, parse_size,
    parse_u32, parse_u64,
};
use crate::{signal, Ctx, Exit, UsageError};
use anyhow::{anyhow, Result};
use clap::Args;
use rsio_uapi as uapi;
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

pub const GRANT_LONG: &str = "\
Grant local memory to peers (RSIO_IOC_GRANT) and hold it: SIZE bytes of
zeroed memory that the nodes in --peers may map (with rsio poke/peek on
their side, or RSIO_IOC_MAP). rsio prints the grant's id, its fabric address
(what peers map), its local bus address and size, flushes stdout, and then
waits. A grant lives as long as the file it was made through: when rsio
exits, it is revoked.

With --fill the memory is filled with BYTE first. With --expect-u32 rsio
polls the little-endian word at OFFSET every 10 ms until it equals VALUE
(a peer wrote it) or --hold seconds pass. Without --expect-u32 it holds the
grant for --hold seconds, or until SIGINT or SIGTERM.

Sizes take K/M/G suffixes (1024-based) and must be multiples of 4K, at most
64M; numbers may be 0x hex. --peers is a comma list of node ids (1,2 or
0-3) or a hex mask (0x6). Needs CAP_SYS_ADMIN.";

pub const GRANT_AFTER: &str = "\
EXAMPLES:
    Hold 64 KiB for nodes 1 and 2 until interrupted:
    # rsio grant --peers 1,2 --size 64K
    grant id=3 peers=1,2 size=65536 fabric_addr=0x200000 bus_addr=0x7f3e0000

    Wait up to 10 s for a peer to write 0xcafe at offset 0x10:
    # rsio grant --peers 1 --size 4K --expect-u32 0x10=0xcafe --hold 10
    grant id=4 peers=1 size=4096 fabric_addr=0x210000 bus_addr=0x7f3f0000
    received 0xcafe at offset 0x10 after 153 ms

    # rsio grant --peers 0x2 --size 4K --fill 0xa5 --hold 30 --json
    {\"bus_addr\":2134835200,\"fabric_addr\":2162688,\"id\":5,\"peers\":[1],\"size\":4096}

EXIT STATUS:
    0   held for --hold seconds or until SIGINT/SIGTERM, or the expected value
        arrived
    1   the grant failed (EPERM: not root; ENOSPC: no free inbound window;
        ENODEV: no transport), or the expected value did not arrive in time
    2   usage error (size not a multiple of 4K, --peers includes this node or a
        node outside the fabric, offset outside the grant...)";

pub const POKE_LONG: &str = "\
Write a 32-bit word of a peer's memory and read it back: rsio maps the 4 KiB
page at (FABRIC_ADDR + --offset) rounded down (RSIO_IOC_MAP), writes VALUE
little-endian through it (RSIO_IOC_WINDOW_IO), reads the word back, prints
both and unmaps.

The peer checks each access against its grants: an access it refuses reads
all-ones (0xffffffff) and is counted in both nodes' `refused` counters (rsio
status). The word address must be 4-byte aligned. Needs CAP_SYS_ADMIN.";

pub const POKE_AFTER: &str = "\
EXAMPLES:
    # rsio poke 0 0x200000 0xcafe --offset 0x10
    node 0 0x200010: wrote 0xcafe, read back 0xcafe

    # rsio poke 0 0x900000 1 --json
    {\"bus_addr\":3758096384,\"fabric_addr\":9437184,\"map_id\":7,\"node\":0,
     \"read\":4294967295,\"wrote\":1}

EXIT STATUS:
    0   the word read back is the word written
    1   the map or the access failed (EHOSTUNREACH: the node is not up; ENOSPC:
        no free LUT slot), or the word read back differs (e.g. all-ones: the
        peer refused the access)
    2   usage error (unaligned address, the node is this node...)";

pub const PEEK_LONG: &str = "\
Read a 32-bit word of a peer's memory: rsio maps the 4 KiB page at
(FABRIC_ADDR + --offset) rounded down (RSIO_IOC_MAP), reads the word
little-endian (RSIO_IOC_WINDOW_IO), prints it and unmaps. An access the
peer refuses reads all-ones (0xffffffff). The word address must be 4-byte
aligned. Needs CAP_SYS_ADMIN.";

pub const PEEK_AFTER: &str = "\
EXAMPLES:
    # rsio peek 0 0x200010
    node 0 0x200010: 0xcafe

    # rsio peek 0 0x200000 --offset 16 --json
    {\"bus_addr\":3758096400,\"fabric_addr\":2097168,\"map_id\":8,\"node\":0,
     \"value\":51966}

EXIT STATUS:
    0   the word was read
    1   the map or the access failed (EHOSTUNREACH: the node is not up...)
    2   usage error (unaligned address, the node is this node...)";

/// The options of `rsio grant`.
#[derive(Args, Debug)]
pub struct GrantArgs {
    /// Nodes that may reach the memory: ids (1,2 or 0-3) or a hex mask (0x6).
    #[arg(long, value_name = "LIST", value_parser = parse_peers)]
    pub peers: u32,
    /// Bytes to grant: a multiple of 4K, at most 64M (suffixes K, M).
    #[arg(long, value_parser = parse_size)]
    pub size: u64,
    /// Fill the memory with BYTE before printing the grant.
    #[arg(long, value_name = "BYTE", value_parser = parse_byte)]
    pub fill: Option<u8>,
    /// Wait until the word at OFFSET equals VALUE (polled every 10 ms).
    #[arg(long, value_name = "OFFSET=VALUE", value_parser = parse_expect)]
    pub expect_u32: Option<(u64, u32)>,
    /// Hold (or wait for --expect-u32) this many seconds (default: until
    /// SIGINT or SIGTERM).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub hold: Option<Duration>,
}

/// The options of `rsio poke`.
#[derive(Args, Debug)]
pub struct PokeArgs {
    /// The peer's node id.
    #[arg(value_parser = parse_node)]
    pub node: u32,
    /// A fabric address in the peer's space (from its grant).
    #[arg(value_parser = parse_u64)]
    pub fabric_addr: u64,
    /// The 32-bit value to write.
    #[arg(value_parser = parse_u32)]
    pub value: u32,
    /// Added to FABRIC_ADDR.
    #[arg(long, default_value = "0", value_parser = parse_size)]
    pub offset: u64,
}

/// The options of `rsio peek`.
#[derive(Args, Debug)]
pub struct PeekArgs {
    /// The peer's node id.
    #[arg(value_parser = parse_node)]
    pub node: u32,
    /// A fabric address in the peer's space (from its grant).
    #[arg(value_parser = parse_u64)]
    pub fabric_addr: u64,
    /// Added to FABRIC_ADDR.
    #[arg(long, default_value = "0", value_parser = parse_size)]
    pub offset: u64,
}

/// Adds a hint for the errnos of the window ioctls.
fn explain(e: impl Into<anyhow::Error>, node: Option<u32>) -> anyhow::Error {
    let e = e.into();
    let hint = match (errno_of(&e), node) {
        (Some(libc::EHOSTUNREACH), Some(n)) => {
            format!("node {n} is not up (rsio nodes shows the fabric)")
        }
        (Some(libc::ENOSPC), Some(_)) => {
            "no free outbound translation entry (rsio windows shows who holds them)".into()
        }
        (Some(libc::ENOSPC), None) => {
            "no free inbound window (rsio windows shows who holds them)".into()
        }
        (Some(libc::EEXIST), Some(n)) => {
            format!("the range partially overlaps an existing mapping of node {n} (rsio windows)")
        }
        _ => return e,
    };
    anyhow!("{e:#}: {hint}")
}

/// Checks a grant's size against the ABI.
pub fn check_window_size(size: u64) -> Result<(), UsageError> {
    if size == 0
        || size > uapi::RSIO_MAX_WINDOW_SIZE
        || !size.is_multiple_of(uapi::RSIO_WINDOW_ALIGN)
    {
        return Err(UsageError(format!(
            "--size {size} must be a multiple of 4K between 4K and {}M",
            uapi::RSIO_MAX_WINDOW_SIZE >> 20
        )));
    }
    Ok(())
}

/// Checks an `--expect-u32` offset: a whole aligned word inside the grant.
pub fn check_word_offset(offset: u64, size: u64) -> Result<(), UsageError> {
    if !offset.is_multiple_of(4) || offset.checked_add(4).is_none_or(|end| end > size) {
        return Err(UsageError(format!(
            "offset {offset:#x} is not a 4-byte aligned word inside the {size}-byte grant"
        )));
    }
    Ok(())
}

/// `rsio grant`.
pub fn grant(ctx: &Ctx, args: &GrantArgs) -> Result<()> {
    check_window_size(args.size)?;
    if let Some((offset, _)) = args.expect_u32 {
        check_word_offset(offset, args.size)?;
    }
    signal::install()?;
    let dev = ctx.open()?;
    check_peers(&dev, args.peers)?;
    let g = dev
        .grant(args.peers, args.size)
        .map_err(|e| explain(e, None))?;
    if let Some(byte) = args.fill {
        fill(&dev, g.id, args.size, byte)?;
    }
    if ctx.json {
        let j = json!({
            "id": g.id,
            "peers": crate::format::mask_nodes(args.peers),
            "size": args.size,
            "fabric_addr": g.fabric_addr,
            "bus_addr": g.bus_addr,
        });
        println!("{j}");
    } else {
        println!("{}", grant_line(&g, args.peers, args.size));
    }
    std::io::stdout().flush()?;

    let start = Instant::now();
    let deadline = args.hold.map(|h| start + h);
    let result = match args.expect_u32 {
        Some((offset, value)) => expect(ctx, &dev, g.id, offset, value, start, deadline),
        None => {
            signal::sleep_until(deadline, Duration::from_millis(100));
            Ok(())
        }
    };
    // Closing the file would revoke it too; revoking says so explicitly.
    if let Err(e) = dev.revoke(g.id) {
        eprintln!("rsio: warning: {e}");
    }
    result
}

/// Checks a grant's peers against this node's status (the kernel would
/// say `EINVAL`): other nodes of the fabric only.
fn check_peers(dev: &Device, peers: u32) -> Result<()> {
    let s = dev.status()?;
    if s.transport == uapi::RSIO_TRANSPORT_NONE {
        return Err(anyhow!(
            "the fabric core has no transport: no rsio adapter or NTB device is bound (rsio status)"
        ));
    }
    Ok(peers_in_fabric(peers, s.node_id, s.num_nodes)?)
}

/// Whether `peers` names only nodes of a `num_nodes` fabric other than
/// `self_id`.
pub fn peers_in_fabric(peers: u32, self_id: u32, num_nodes: u32) -> Result<(), UsageError> {
    if self_id < 32 && peers & (1 << self_id) != 0 {
        return Err(UsageError(format!(
            "--peers {} includes this node ({self_id}): grant to other nodes",
            node_list(peers)
        )));
    }
    let all = 1u32.checked_shl(num_nodes).map_or(u32::MAX, |b| b - 1);
    if peers & !all != 0 {
        return Err(UsageError(format!(
            "--peers {}: node {} is not in the fabric (nodes 0..{})",
            node_list(peers),
            (peers & !all).trailing_zeros(),
            num_nodes.saturating_sub(1)
        )));
    }
    Ok(())
}

/// The line `rsio grant` prints: `key=value` pairs a test can parse.
pub fn grant_line(g: &uapi::RsioGrant, peers: u32, size: u64) -> String {
    format!(
        "grant id={} peers={} size={size} fabric_addr={} bus_addr={}",
        g.id,
        node_list(peers),
        hex(g.fabric_addr),
        hex(g.bus_addr)
    )
}

fn fill(dev: &Device, id: u32, size: u64, byte: u8) -> Result<()> {
    let chunk = size.min(uapi::RSIO_MAX_IO) as usize;
    let buf = vec![byte; chunk];
    let mut offset = 0;
    while offset < size {
        let n = (size - offset).min(chunk as u64) as usize;
        dev.window_write(id, offset, &buf[..n])?;
        offset += n as u64;
    }
    Ok(())
}

fn expect(
    ctx: &Ctx,
    dev: &Device,
    id: u32,
    offset: u64,
    value: u32,
    start: Instant,
    deadline: Option<Instant>,
) -> Result<()> {
    let step = Duration::from_millis(10);
    loop {
        let got = dev.read_u32(id, offset)?;
        let ms = start.elapsed().as_millis() as u64;
        if got == value {
            if ctx.json {
                println!(
                    "{}",
                    json!({"received": value, "offset": offset, "after_ms": ms})
                );
            } else {
                println!("received {value:#x} at offset {offset:#x} after {ms} ms");
            }
            return Ok(());
        }
        let next = Instant::now() + step;
        let wake = deadline.map_or(next, |d| d.min(next));
        let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
        if timed_out || !signal::sleep_until(Some(wake), step) {
            let why = if timed_out {
                "timed out"
            } else {
                "interrupted"
            };
            if ctx.json {
                println!(
                    "{}",
                    json!({"received": null, "expected": value, "last": got,
                           "offset": offset, "after_ms": ms})
                );
            }
            eprintln!(
                "rsio: {why} after {ms} ms waiting for {value:#x} at offset {offset:#x} (last value {got:#x})"
            );
            return Err(Exit(1).into());
        }
    }
}

/// Where a poke or peek goes: the page to map and the word's offset in it.
#[derive(Debug, PartialEq, Eq)]
pub struct WordTarget {
    /// The word's fabric address.
    pub addr: u64,
    /// The 4 KiB page that holds it.
    pub page: u64,
    /// The word's offset in the page.
    pub offset: u64,
}

/// Finds the page and offset of the word at `addr + offset`.
pub fn word_target(addr: u64, offset: u64) -> Result<WordTarget, UsageError> {
    let word = addr
        .checked_add(offset)
        .ok_or_else(|| UsageError(format!("{addr:#x} + {offset:#x} overflows")))?;
    if !word.is_multiple_of(4) {
        return Err(UsageError(format!(
            "the word address {word:#x} is not 4-byte aligned"
        )));
    }
    let page = word & !(uapi::RSIO_WINDOW_ALIGN - 1);
    Ok(WordTarget {
        addr: word,
        page,
        offset: word - page,
    })
}

/// Maps the page of `t` on `node`, runs `f` with the mapping's id, unmaps.
fn with_page<T>(
    dev: &Device,
    node: u32,
    t: &WordTarget,
    f: impl FnOnce(u32) -> Result<T>,
) -> Result<(T, uapi::RsioMap)> {
    let m = dev
        .map(node, t.page, uapi::RSIO_WINDOW_ALIGN)
        .map_err(|e| explain(e, Some(node)))?;
    let result = f(m.id);
    let unmapped = dev.unmap(m.id);
    let value = result?;
    unmapped?;
    Ok((value, m))
}

/// `rsio poke`.
pub fn poke(ctx: &Ctx, args: &PokeArgs) -> Result<()> {
    let t = word_target(args.fabric_addr, args.offset)?;
    let dev = ctx.open()?;
    check_target(&dev, args.node)?;
    let (read, m) = with_page(&dev, args.node, &t, |id| {
        dev.write_u32(id, t.offset, args.value)?;
        Ok(dev.read_u32(id, t.offset)?)
    })?;
    if ctx.json {
        let j = json!({
            "node": args.node,
            "fabric_addr": t.addr,
            "wrote": args.value,
            "read": read,
            "map_id": m.id,
            "bus_addr": m.bus_addr + t.offset,
        });
        println!("{j}");
    } else {
        println!(
            "node {} {}: wrote {:#x}, read back {read:#x}",
            args.node,
            hex(t.addr),
            args.value
        );
    }
    if read != args.value {
        let hint = if read == u32::MAX {
            ": all-ones, the peer probably refused the access (is the range granted to this node?)"
        } else {
            ""
        };
        eprintln!("rsio: the word read back differs from the word written{hint}");
        return Err(Exit(1).into());
    }
    Ok(())
}

/// `rsio peek`.
pub fn peek(ctx: &Ctx, args: &PeekArgs) -> Result<()> {
    let t = word_target(args.fabric_addr, args.offset)?;
    let dev = ctx.open()?;
    check_target(&dev, args.node)?;
    let (value, m) = with_page(&dev, args.node, &t, |id| Ok(dev.read_u32(id, t.offset)?))?;
    if ctx.json {
        let j = json!({
            "node": args.node,
            "fabric_addr": t.addr,
            "value": value,
            "map_id": m.id,
            "bus_addr": m.bus_addr + t.offset,
        });
        println!("{j}");
    } else {
        println!("node {} {}: {value:#x}", args.node, hex(t.addr));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uapi::Request;

    #[test]
    fn a_word_target_is_its_page_and_the_offset_in_it() {
        assert_eq!(
            word_target(0x20_0000, 0x10).unwrap(),
            WordTarget {
                addr: 0x20_0010,
                page: 0x20_0000,
                offset: 0x10
            }
        );
        assert_eq!(
            word_target(0x20_1ffc, 0).unwrap(),
            WordTarget {
                addr: 0x20_1ffc,
                page: 0x20_1000,
                offset: 0xffc
            }
        );
    }

    #[test]
    fn unaligned_or_overflowing_words_are_usage_errors() {
        assert!(word_target(0x1002, 0).is_err());
        assert!(word_target(0x1000, 1).is_err());
        assert!(word_target(u64::MAX - 3, 8).is_err());
    }

    #[test]
    fn grant_sizes_are_4k_multiples_up_to_64m() {
        assert!(check_window_size(4096).is_ok());
        assert!(check_window_size(64 << 20).is_ok());
        assert!(check_window_size(0).is_err());
        assert!(check_window_size(6000).is_err());
        assert!(check_window_size((64 << 20) + 4096).is_err());
    }

    #[test]
    fn expected_words_must_lie_inside_the_grant() {
        assert!(check_word_offset(0, 4096).is_ok());
        assert!(check_word_offset(4092, 4096).is_ok());
        assert!(check_word_offset(4096, 4096).is_err());
        assert!(check_word_offset(2, 4096).is_err());
        assert!(check_word_offset(u64::MAX - 3, 4096).is_err());
    }

    #[test]
    fn grant_peers_are_other_nodes_of_the_fabric() {
        assert!(peers_in_fabric(0b101, 1, 3).is_ok());
        let e = peers_in_fabric(0b011, 1, 3).unwrap_err();
        assert_eq!(
            e.0,
            "--peers 0,1 includes this node (1): grant to other nodes"
        );
        let e = peers_in_fabric(0b1001, 1, 3).unwrap_err();
        assert_eq!(e.0, "--peers 0,3: node 3 is not in the fabric (nodes 0..2)");
        assert!(peers_in_fabric(1 << 15, 0, 16).is_ok());
    }

    #[test]
    fn the_grant_line_is_key_value_pairs() {
        let mut g = uapi::RsioGrant::request();
        g.id = 3;
        g.fabric_addr = 0x20_0000;
        g.bus_addr = 0x7f3e_0000;
        assert_eq!(
            grant_line(&g, 0b110, 65536),
            "grant id=3 peers=1,2 size=65536 fabric_addr=0x200000 bus_addr=0x7f3e0000"
        );
    }

    #[test]
    fn window_errors_get_hints() {
        let err = |code| crate::device::IoctlError {
            name: "RSIO_IOC_MAP",
            path: "/dev/rsio".into(),
            error: std::io::Error::from_raw_os_error(code),
        };
        let e = explain(err(libc::EHOSTUNREACH), Some(2)).to_string();
        assert!(
            e.ends_with("node 2 is not up (rsio nodes shows the fabric)"),
            "{e}"
        );
        let e = explain(err(libc::ENOSPC), None).to_string();
        assert!(
            e.ends_with("no free inbound window (rsio windows shows who holds them)"),
            "{e}"
        );
        let e = explain(err(libc::EEXIST), Some(1)).to_string();
        assert!(e.contains("partially overlaps"), "{e}");
        let e = explain(err(libc::EINVAL), Some(1)).to_string();
        assert!(e.ends_with("(EINVAL)"), "{e}");
    }
}
