//! Pure parsing and formatting: numbers, sizes, node lists, names of ABI
//! values, durations and text tables. Nothing here touches the device.

use rsio_uapi as uapi;
use std::time::Duration;

// --- Parsing (clap value parsers: an `Err` is a usage error, exit status 2).

/// Parses a decimal number or a `0x` hexadecimal one.
pub fn parse_u64(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, radix) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (t, 10),
    };
    if digits.is_empty() {
        return Err(format!("'{s}' is not a number"));
    }
    u64::from_str_radix(digits, radix).map_err(|e| format!("'{s}' is not a number: {e}"))
}

/// Parses a number that must fit in 32 bits (decimal or `0x` hex).
pub fn parse_u32(s: &str) -> Result<u32, String> {
    let v = parse_u64(s)?;
    u32::try_from(v).map_err(|_| format!("'{s}' does not fit in 32 bits"))
}

/// Parses a byte value (decimal or `0x` hex).
pub fn parse_byte(s: &str) -> Result<u8, String> {
    let v = parse_u64(s)?;
    u8::try_from(v).map_err(|_| format!("'{s}' is not a byte (0..=255)"))
}

/// Parses a size: a number (decimal or `0x` hex) with an optional `K`, `M`
/// or `G` suffix (1024-based, case-insensitive; `KiB` and `KB` too). In hex
/// a `B` is a digit, not a suffix.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (prefix, rest, is_digit): (&str, &str, fn(&char) -> bool) =
        match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(r) => ("0x", r, char::is_ascii_hexdigit),
            None => ("", t, char::is_ascii_digit),
        };
    let split = rest.find(|c: char| !is_digit(&c)).unwrap_or(rest.len());
    let (digits, suffix) = rest.split_at(split);
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => {
            return Err(format!(
                "'{s}' is not a size (a number with an optional K, M or G suffix)"
            ))
        }
    };
    let n = parse_u64(&format!("{prefix}{digits}"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// Parses a node-id list into a mask: `0x...` is a hexadecimal mask, anything
/// else a comma list of node ids and ranges (`1,3`, `0-2,5`). Ids must be
/// below [`uapi::RSIO_MAX_NODES`]; the mask may not be empty.
pub fn parse_peers(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let max = uapi::RSIO_MAX_NODES;
    let mask = if t.starts_with("0x") || t.starts_with("0X") {
        let m = parse_u32(t)?;
        if m >> max != 0 {
            return Err(format!("'{s}' names nodes beyond {}", max - 1));
        }
        m
    } else {
        let mut m = 0u32;
        for part in t.split(',') {
            let part = part.trim();
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (node_id(a, s)?, node_id(b, s)?),
                None => {
                    let n = node_id(part, s)?;
                    (n, n)
                }
            };
            if lo > hi {
                return Err(format!("'{part}' is an empty range"));
            }
            for n in lo..=hi {
                m |= 1 << n;
            }
        }
        m
    };
    if mask == 0 {
        return Err("the peer list is empty".into());
    }
    Ok(mask)
}

fn node_id(s: &str, whole: &str) -> Result<u32, String> {
    let s = s.trim();
    let n: u32 = s.parse().map_err(|_| {
        format!("'{whole}' is not a node list (node ids like 1,3 or 0-2, or a mask like 0x5)")
    })?;
    if n >= uapi::RSIO_MAX_NODES {
        return Err(format!(
            "node {n} does not exist (node ids are 0..{})",
            uapi::RSIO_MAX_NODES - 1
        ));
    }
    Ok(n)
}

/// Parses a node id (`0..RSIO_MAX_NODES`).
pub fn parse_node(s: &str) -> Result<u32, String> {
    node_id(s, s)
}

/// Parses `OFFSET=VALUE` (both decimal or `0x` hex).
pub fn parse_expect(s: &str) -> Result<(u64, u32), String> {
    let (off, val) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not OFFSET=VALUE"))?;
    Ok((parse_size(off)?, parse_u32(val)?))
}

/// Parses a number of seconds, fractions allowed (`2`, `0.5`).
pub fn parse_seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    Duration::try_from_secs_f64(v).map_err(|_| format!("'{s}' is not a duration"))
}

// --- Names of ABI values.

/// The node-list form of a mask: `0,2,3`, or `-` when empty.
pub fn node_list(mask: u32) -> String {
    let nodes = mask_nodes(mask);
    if nodes.is_empty() {
        return "-".into();
    }
    nodes
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The node ids set in a mask, ascending.
pub fn mask_nodes(mask: u32) -> Vec<u32> {
    (0..32).filter(|n| mask & (1 << n) != 0).collect()
}

/// `RSIO_NODE_*` as `rsio nodes` shows it.
pub fn state_name(state: u32) -> String {
    match state {
        uapi::RSIO_NODE_SELF => "self".into(),
        uapi::RSIO_NODE_DOWN => "down".into(),
        uapi::RSIO_NODE_HELLO => "hello".into(),
        uapi::RSIO_NODE_UP => "up".into(),
        uapi::RSIO_NODE_DEAD => "dead".into(),
        n => format!("unknown({n})"),
    }
}

/// `RSIO_TRANSPORT_*` as `rsio status` shows it.
pub fn transport_name(transport: u32) -> String {
    match transport {
        uapi::RSIO_TRANSPORT_NONE => "none".into(),
        uapi::RSIO_TRANSPORT_ADAPTER => "adapter".into(),
        uapi::RSIO_TRANSPORT_NTB => "ntb".into(),
        n => format!("unknown({n})"),
    }
}

/// `RSIO_WINDOW_*` as `rsio windows` shows it.
pub fn window_kind_name(kind: u32) -> String {
    match kind {
        uapi::RSIO_WINDOW_MAP => "map".into(),
        uapi::RSIO_WINDOW_GRANT => "grant".into(),
        uapi::RSIO_WINDOW_MAILBOX => "mailbox".into(),
        n => format!("unknown({n})"),
    }
}

/// Names of the `RSIO_PEER_CAP_*` bits, unknown bits in hex.
pub fn peer_cap_names(caps: u32) -> Vec<String> {
    let mut names = Vec::new();
    if caps & uapi::RSIO_PEER_CAP_GRANTS != 0 {
        names.push("grants".to_string());
    }
    let unknown = caps & !uapi::RSIO_PEER_CAP_GRANTS;
    if unknown != 0 {
        names.push(format!("unknown:{unknown:#x}"));
    }
    names
}

/// A NUL-terminated string field as text.
pub fn cstr(field: &[u8]) -> String {
    String::from_utf8_lossy(uapi::cstr_bytes(field)).into_owned()
}

// --- Quantities.

/// A duration in ms, compact: `850ms`, `12.3s`, `5m03s`, `2h05m`, `3d04h`.
pub fn duration_ms(ms: u64) -> String {
    let s = ms / 1000;
    match ms {
        0..1000 => format!("{ms}ms"),
        1000..60_000 => format!("{}.{}s", s, (ms % 1000) / 100),
        60_000..3_600_000 => format!("{}m{:02}s", s / 60, s % 60),
        3_600_000..86_400_000 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// A round-trip time in ns as ms with three decimals, like ping(8).
pub fn rtt_ms(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000_000, (ns % 1_000_000) / 1000)
}

/// A size in bytes: with a K/M/G suffix when it is an exact multiple,
/// plain bytes otherwise (`4K`, `64M`, `1536`).
pub fn size(bytes: u64) -> String {
    for (shift, suffix) in [(30, "G"), (20, "M"), (10, "K")] {
        if bytes != 0 && bytes.is_multiple_of(1 << shift) {
            return format!("{}{suffix}", bytes >> shift);
        }
    }
    bytes.to_string()
}

/// A size in bytes for people: [`size`] when exact, else one decimal of
/// the largest unit it reaches (`1.5G`, `3.2M`), plain bytes below 1K.
pub fn size_human(bytes: u64) -> String {
    for (shift, suffix) in [(30, "G"), (20, "M"), (10, "K")] {
        if bytes >= 1 << shift {
            if bytes.is_multiple_of(1 << shift) {
                return format!("{}{suffix}", bytes >> shift);
            }
            let tenths = (bytes as u128 * 10 + (1 << (shift - 1))) >> shift;
            return format!("{}.{}{suffix}", tenths / 10, tenths % 10);
        }
    }
    bytes.to_string()
}

/// The bits of a mask as a list of ranges of 1-based numbers, bit `n`
/// standing for `n + 1`: `1-4,7,9-10`, or `-` when empty.
pub fn ranges_1based(mask: u64) -> String {
    let mut parts = Vec::new();
    let mut n = 0;
    while n < 64 {
        if mask & (1 << n) == 0 {
            n += 1;
            continue;
        }
        let start = n;
        while n < 64 && mask & (1 << n) != 0 {
            n += 1;
        }
        parts.push(if n - start == 1 {
            format!("{}", start + 1)
        } else {
            format!("{}-{}", start + 1, n)
        });
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(",")
    }
}

/// An address in hex with a `0x` prefix.
pub fn hex(v: u64) -> String {
    format!("{v:#x}")
}

// --- Tables.

/// Column alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text: padded on the right.
    Left,
    /// Numbers: padded on the left.
    Right,
}

/// A text table: a header row and rows of cells, columns two spaces apart,
/// no trailing blanks.
pub struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers and alignments.
    pub fn new(columns: &[(&'static str, Align)]) -> Self {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are empty, extra cells dropped.
    pub fn row(&mut self, mut cells: Vec<String>) {
        cells.resize(self.columns.len(), String::new());
        self.rows.push(cells);
    }

    /// The table as lines of text, each ending in a newline.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.columns.iter().map(|(h, _)| h.len()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.columns.iter().map(|(h, _)| h.to_string()).collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = widths[i].saturating_sub(cell.chars().count());
                match self.columns[i].1 {
                    Align::Left => {
                        line.push_str(cell);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(cell);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_decimal_or_0x_hex() {
        assert_eq!(parse_u64("42"), Ok(42));
        assert_eq!(parse_u64("0x2A"), Ok(42));
        assert_eq!(parse_u64("0X2a"), Ok(42));
        assert!(parse_u64("0x").is_err());
        assert!(parse_u64("").is_err());
        assert!(parse_u64("-1").is_err());
        assert!(parse_u64("12abc").is_err());
    }

    #[test]
    fn u32_values_refuse_more_than_32_bits() {
        assert_eq!(parse_u32("0xdeadbeef"), Ok(0xdead_beef));
        assert!(parse_u32("0x100000000").is_err());
    }

    #[test]
    fn bytes_are_0_to_255() {
        assert_eq!(parse_byte("0xa5"), Ok(0xa5));
        assert_eq!(parse_byte("255"), Ok(255));
        assert!(parse_byte("256").is_err());
    }

    #[test]
    fn sizes_take_1024_based_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("16KiB"), Ok(16 << 10));
        assert_eq!(parse_size("2MB"), Ok(2 << 20));
        assert_eq!(parse_size("0x1000"), Ok(4096));
        assert_eq!(parse_size("0x10K"), Ok(16 << 10));
    }

    #[test]
    fn hex_digits_are_not_taken_for_suffixes() {
        assert_eq!(parse_size("0xb"), Ok(0xb));
        assert_eq!(parse_size("0x1b"), Ok(0x1b));
    }

    #[test]
    fn malformed_or_overflowing_sizes_are_refused() {
        assert!(parse_size("K").is_err());
        assert!(parse_size("4T").is_err());
        assert!(parse_size("1.5M").is_err());
        assert!(parse_size("0xffffffffffffffffK").is_err());
    }

    #[test]
    fn peers_are_a_comma_list_of_ids_and_ranges() {
        assert_eq!(parse_peers("1"), Ok(0b10));
        assert_eq!(parse_peers("0,2"), Ok(0b101));
        assert_eq!(parse_peers("1-3, 5"), Ok(0b10_1110));
        assert_eq!(parse_peers("15"), Ok(1 << 15));
    }

    #[test]
    fn peers_starting_with_0x_are_a_mask() {
        assert_eq!(parse_peers("0x5"), Ok(0b101));
        assert_eq!(parse_peers("0x8000"), Ok(1 << 15));
    }

    #[test]
    fn peer_lists_refuse_unknown_nodes_and_empty_sets() {
        assert!(parse_peers("16").is_err());
        assert!(parse_peers("0x10000").is_err());
        assert!(parse_peers("0x0").is_err());
        assert!(parse_peers("").is_err());
        assert!(parse_peers("3-1").is_err());
        assert!(parse_peers("a,b").is_err());
    }

    #[test]
    fn expectations_are_offset_equals_value() {
        assert_eq!(parse_expect("0x10=0xcafe"), Ok((16, 0xcafe)));
        assert_eq!(parse_expect("4K=7"), Ok((4096, 7)));
        assert!(parse_expect("16").is_err());
        assert!(parse_expect("16=0x1ffffffff").is_err());
    }

    #[test]
    fn seconds_may_have_fractions() {
        assert_eq!(parse_seconds("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_seconds("0.25"), Ok(Duration::from_millis(250)));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
    }

    #[test]
    fn masks_are_shown_as_node_lists() {
        assert_eq!(node_list(0), "-");
        assert_eq!(node_list(0b1101), "0,2,3");
        assert_eq!(mask_nodes(1 << 31), [31]);
    }

    #[test]
    fn node_states_have_names() {
        let names: Vec<String> = (0..=5).map(state_name).collect();
        assert_eq!(names, ["unknown(0)", "down", "hello", "up", "dead", "self"]);
    }

    #[test]
    fn transports_and_window_kinds_have_names() {
        assert_eq!(transport_name(uapi::RSIO_TRANSPORT_NONE), "none");
        assert_eq!(transport_name(uapi::RSIO_TRANSPORT_ADAPTER), "adapter");
        assert_eq!(transport_name(uapi::RSIO_TRANSPORT_NTB), "ntb");
        assert_eq!(transport_name(9), "unknown(9)");
        assert_eq!(window_kind_name(uapi::RSIO_WINDOW_MAP), "map");
        assert_eq!(window_kind_name(uapi::RSIO_WINDOW_GRANT), "grant");
        assert_eq!(window_kind_name(uapi::RSIO_WINDOW_MAILBOX), "mailbox");
        assert_eq!(window_kind_name(0), "unknown(0)");
    }

    #[test]
    fn peer_caps_name_known_bits_and_show_the_rest_in_hex() {
        assert_eq!(peer_cap_names(0), Vec::<String>::new());
        assert_eq!(peer_cap_names(0b1), ["grants"]);
        assert_eq!(peer_cap_names(0b101), ["grants", "unknown:0x4"]);
    }

    #[test]
    fn durations_are_compact() {
        assert_eq!(duration_ms(0), "0ms");
        assert_eq!(duration_ms(850), "850ms");
        assert_eq!(duration_ms(12_345), "12.3s");
        assert_eq!(duration_ms(303_000), "5m03s");
        assert_eq!(duration_ms(7_500_000), "2h05m");
        assert_eq!(duration_ms(273_600_000), "3d04h");
    }

    #[test]
    fn round_trip_times_are_ms_with_microseconds() {
        assert_eq!(rtt_ms(123_456), "0.123");
        assert_eq!(rtt_ms(12_345_678), "12.345");
    }

    #[test]
    fn sizes_use_a_suffix_only_when_exact() {
        assert_eq!(size(0), "0");
        assert_eq!(size(4096), "4K");
        assert_eq!(size(64 << 20), "64M");
        assert_eq!(size(2 << 30), "2G");
        assert_eq!(size(1536), "1536");
        assert_eq!(size(1025 << 10), "1025K");
    }

    #[test]
    fn human_sizes_round_to_one_decimal_unless_exact() {
        assert_eq!(size_human(0), "0");
        assert_eq!(size_human(1023), "1023");
        assert_eq!(size_human(64 << 20), "64M");
        assert_eq!(size_human(3 << 29), "1.5G");
        assert_eq!(size_human((1 << 20) + 1), "1.0M");
        assert_eq!(size_human(1536), "1.5K");
        assert_eq!(size_human(u64::MAX), "17179869184.0G");
    }

    #[test]
    fn masks_are_shown_as_1_based_ranges() {
        assert_eq!(ranges_1based(0), "-");
        assert_eq!(ranges_1based(0b1111), "1-4");
        assert_eq!(ranges_1based(0b11_0100_1111), "1-4,7,9-10");
        assert_eq!(ranges_1based(1 << 63), "64");
        assert_eq!(ranges_1based(u64::MAX), "1-64");
    }

    #[test]
    fn tables_align_columns_two_spaces_apart_without_trailing_blanks() {
        let mut t = Table::new(&[
            ("NODE", Align::Right),
            ("STATE", Align::Left),
            ("NAME", Align::Left),
        ]);
        t.row(vec!["0".into(), "self".into(), "node0".into()]);
        t.row(vec!["12".into(), "up".into(), String::new()]);
        assert_eq!(
            t.render(),
            "NODE  STATE  NAME\n   0  self   node0\n  12  up\n"
        );
    }

    #[test]
    fn a_table_without_rows_is_its_header() {
        let t = Table::new(&[("ID", Align::Right), ("KIND", Align::Left)]);
        assert_eq!(t.render(), "ID  KIND\n");
    }

    #[test]
    fn short_rows_are_padded_with_empty_cells() {
        let mut t = Table::new(&[("A", Align::Left), ("B", Align::Right)]);
        t.row(vec!["x".into()]);
        assert_eq!(t.render(), "A  B\nx\n");
    }

    #[test]
    fn string_fields_stop_at_the_nul() {
        assert_eq!(cstr(b"node1\0\0\0"), "node1");
        assert_eq!(cstr(b"full"), "full");
    }
}
