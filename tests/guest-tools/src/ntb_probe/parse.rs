//! Numbers on the command line: decimal or `0x` hex, sizes with an optional
//! `K`/`M`/`G` suffix, node lists like `0,2`.

/// `123` or `0x7b`.
pub fn number(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("{text:?} is not a number"))
}

/// A number with an optional binary suffix: `64K`, `2M`, `0x1000`.
pub fn size(text: &str) -> Result<u64, String> {
    let (digits, shift) = match text.as_bytes().last() {
        Some(b'K' | b'k') => (&text[..text.len() - 1], 10),
        Some(b'M' | b'm') => (&text[..text.len() - 1], 20),
        Some(b'G' | b'g') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    let value = number(digits)?;
    value
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// A 32-bit value (doorbell bits, scratchpad contents).
pub fn u32_value(text: &str) -> Result<u32, String> {
    let value = number(text)?;
    u32::try_from(value).map_err(|_| format!("{text:?} does not fit 32 bits"))
}

/// A node list, `0,2`, as a bitmap of nodes 0..16.
pub fn nodes(text: &str) -> Result<u32, String> {
    let mut bits = 0u32;
    for part in text.split(',') {
        let node = number(part.trim())?;
        if node >= 16 {
            return Err(format!("node {node} is out of range 0..16"));
        }
        bits |= 1 << node;
    }
    Ok(bits)
}

/// Seconds, possibly fractional.
pub fn seconds(text: &str) -> Result<std::time::Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 86_400.0)
        .map(std::time::Duration::from_secs_f64)
        .ok_or_else(|| format!("{text:?} is not a number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_decimal_or_hex() {
        assert_eq!(number("42"), Ok(42));
        assert_eq!(number("0x2a"), Ok(42));
        assert!(number("4z").is_err());
        assert!(number("").is_err());
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(size("64K"), Ok(65536));
        assert_eq!(size("2M"), Ok(2 << 20));
        assert_eq!(size("0x1000"), Ok(4096));
        assert!(size("99999999999G").is_err());
    }

    #[test]
    fn node_lists_become_bitmaps() {
        assert_eq!(nodes("0,2"), Ok(0b101));
        assert_eq!(nodes("1"), Ok(0b10));
        assert!(nodes("16").is_err());
        assert!(nodes("1,,2").is_err());
    }

    #[test]
    fn seconds_may_be_fractional_but_not_negative() {
        assert_eq!(seconds("1.5"), Ok(std::time::Duration::from_millis(1500)));
        assert!(seconds("-1").is_err());
        assert!(seconds("soon").is_err());
    }
}
