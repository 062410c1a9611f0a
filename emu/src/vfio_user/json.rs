//! A small, strict JSON reader for the VERSION capabilities object.
//!
//! The capabilities are the only JSON in the protocol, and all we need is
//! to look up a few numbers in nested objects. This parser accepts RFC 8259
//! JSON, limits nesting depth so hostile input cannot exhaust the stack,
//! and reports malformed input as `None` rather than panicking.

/// A parsed JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// Kept as text so that 64-bit integers stay exact.
    Number(String),
    String(String),
    Array(Vec<Value>),
    /// Members in document order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object (the last one, if repeated).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A non-negative integer, if this is one that fits in a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(text) => text.parse().ok(),
            _ => None,
        }
    }
}

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 32;

/// Parses a complete JSON document (surrounding whitespace allowed).
pub fn parse(text: &str) -> Option<Value> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let value = parser.value(0)?;
    parser.skip_whitespace();
    (parser.pos == parser.bytes.len()).then_some(value)
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect_literal(&mut self, literal: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(literal.len())?;
        (self.bytes.get(self.pos..end)? == literal).then(|| self.pos = end)
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_whitespace();
        match self.peek()? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(Value::String),
            b't' => self.expect_literal(b"true").map(|_| Value::Bool(true)),
            b'f' => self.expect_literal(b"false").map(|_| Value::Bool(false)),
            b'n' => self.expect_literal(b"null").map(|_| Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<Value> {
        self.next(); // '{'
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            let key = self.string()?;
            self.skip_whitespace();
            (self.next()? == b':').then_some(())?;
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_whitespace();
            match self.next()? {
                b',' => continue,
                b'}' => return Some(Value::Object(members)),
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<Value> {
        self.next(); // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(Value::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.next()? {
                b',' => continue,
                b']' => return Some(Value::Array(items)),
                _ => return None,
            }
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.pos;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.pos += 1;
            }
            p.pos > s
        };
        digits(self).then_some(())?;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            digits(self).then_some(())?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            digits(self).then_some(())?;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).ok()?;
        Some(Value::Number(text.to_owned()))
    }

    fn string(&mut self) -> Option<String> {
        (self.next()? == b'"').then_some(())?;
        let mut out = Vec::new();
        loop {
            match self.next()? {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let unescaped = match self.next()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(unescaped.encode_utf8(&mut buf).as_bytes());
                }
                0x00..=0x1f => return None,
                b => out.push(b),
            }
        }
    }

    /// The code point of a `\u` escape with four hex digits (the `\u` already read),
    /// combining surrogate pairs; lone surrogates become U+FFFD.
    fn unicode_escape(&mut self) -> Option<char> {
        let high = self.hex4()?;
        if (0xd800..0xdc00).contains(&high) && self.expect_literal(b"\\u").is_some() {
            let low = self.hex4()?;
            if (0xdc00..0xe000).contains(&low) {
                let code = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
                return char::from_u32(code);
            }
            return Some(char::REPLACEMENT_CHARACTER);
        }
        Some(char::from_u32(high).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    fn hex4(&mut self) -> Option<u32> {
        let end = self.pos.checked_add(4)?;
        let text = std::str::from_utf8(self.bytes.get(self.pos..end)?).ok()?;
        let v = u32::from_str_radix(text, 16).ok()?;
        self.pos = end;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_qemu_proposes() {
        let text = r#"{"capabilities":{"migration":{"pgsize":4096,"max_bitmap_size":268435456},
            "max_msg_fds":16,"max_data_xfer_size":1048576,"pgsizes":4096,
            "max_dma_maps":65535,"write_multiple":true}}"#;
        let value = parse(text).unwrap();
        let caps = value.get("capabilities").unwrap();
        assert_eq!(caps.get("max_msg_fds").and_then(Value::as_u64), Some(16));
        assert_eq!(
            caps.get("max_data_xfer_size").and_then(Value::as_u64),
            Some(1 << 20)
        );
        assert_eq!(caps.get("write_multiple"), Some(&Value::Bool(true)));
        let migration = caps.get("migration").unwrap();
        assert_eq!(migration.get("pgsize").and_then(Value::as_u64), Some(4096));
    }

    #[test]
    fn strings_with_escapes_and_nested_arrays_parse() {
        let value =
            parse(r#" { "a\"b\u00e9\ud83d\ude00" : [1, -2.5e3, null, false, []] } "#).unwrap();
        let Value::Object(members) = &value else {
            panic!("not an object")
        };
        assert_eq!(members[0].0, "a\"bé😀");
        assert_eq!(
            members[0].1,
            Value::Array(vec![
                Value::Number("1".into()),
                Value::Number("-2.5e3".into()),
                Value::Null,
                Value::Bool(false),
                Value::Array(vec![]),
            ])
        );
    }

    #[test]
    fn malformed_documents_are_rejected() {
        for text in [
            "",
            "{",
            "{\"a\"}",
            "{\"a\":1,}",
            "[1 2]",
            "01x",
            "\"\n\"",
            "{} {}",
            "tru",
            "-",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_rejected_without_overflowing_the_stack() {
        let deep = "[".repeat(100_000);
        assert_eq!(parse(&deep), None);
    }

    #[test]
    fn negative_or_fractional_numbers_are_not_u64() {
        assert_eq!(parse("-1").unwrap().as_u64(), None);
        assert_eq!(parse("1.5").unwrap().as_u64(), None);
        assert_eq!(
            parse("18446744073709551615").unwrap().as_u64(),
            Some(u64::MAX)
        );
    }
}
