//! The line protocol spoken with a guest's init over the `rsio.ctl`
//! virtio-serial port (the guest side is `tools/guest-init`):
//!
//! ```text
//! guest -> host   @@RSIO-READY <node>\n
//! host  -> guest  <seq> <base64 of a sh script>\n
//! guest -> host   <the script's stdout and stderr>@@RSIO-DONE <seq> <rc>\n
//! ```
//!
//! The port delivers bytes in arbitrary chunks, so [`Decoder`] buffers them
//! into lines. A script whose output does not end in a newline puts the DONE
//! marker in the middle of a line; the decoder splits such a line into the
//! output before the marker and the marker itself.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

const READY: &[u8] = b"@@RSIO-READY ";
const DONE: &[u8] = b"@@RSIO-DONE ";

/// Encodes one step for the guest: its sequence number and the script,
/// base64-encoded (standard alphabet, padded, no line breaks).
pub fn encode_step(seq: u64, script: &str) -> Vec<u8> {
    format!("{seq} {}\n", STANDARD.encode(script)).into_bytes()
}

/// Something the guest said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The guest's init is up and serving node `node`.
    Ready { node: u32 },
    /// Output of the running script (or stray output between scripts).
    Output(Vec<u8>),
    /// The script sent with `seq` has finished with exit code `rc`.
    Done { seq: u64, rc: i32 },
}

/// Turns the byte stream from the guest into [`Event`]s.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Bytes of the current line that have not been terminated yet.
    partial: Vec<u8>,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes as they arrive and returns the events they complete.
    ///
    /// Output is released line by line, so a marker split across two reads
    /// is still recognised; an unterminated line stays in [`Self::pending`].
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        let mut rest = bytes;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..=newline]);
            rest = &rest[newline + 1..];
            let line = std::mem::take(&mut self.partial);
            decode_line(line, &mut events);
        }
        self.partial.extend_from_slice(rest);
        events
    }

    /// The unterminated tail of the stream: output the guest has written
    /// but not finished with a newline yet (useful after a timeout).
    pub fn pending(&self) -> &[u8] {
        &self.partial
    }
}

/// Decodes one complete line (including its `\n`) into events.
fn decode_line(line: Vec<u8>, events: &mut Vec<Event>) {
    let marker = find_marker(&line, DONE)
        .and_then(|at| parse_done(&line[at + DONE.len()..]).map(|done| (at, done)))
        .or_else(|| {
            find_marker(&line, READY)
                .and_then(|at| parse_ready(&line[at + READY.len()..]).map(|ready| (at, ready)))
        });
    match marker {
        Some((at, event)) => {
            if at > 0 {
                events.push(Event::Output(line[..at].to_vec()));
            }
            events.push(event);
        }
        None => events.push(Event::Output(line)),
    }
}

/// The position of the last occurrence of `marker` in `line`.
fn find_marker(line: &[u8], marker: &[u8]) -> Option<usize> {
    line.windows(marker.len()).rposition(|w| w == marker)
}

/// Parses `<seq> <rc>` (the rest of a DONE line, with its line ending).
fn parse_done(rest: &[u8]) -> Option<Event> {
    let fields = decimal_fields(rest)?;
    match fields.as_slice() {
        [seq, rc] => Some(Event::Done {
            seq: seq.parse().ok()?,
            rc: rc.parse().ok()?,
        }),
        _ => None,
    }
}

/// Parses `<node>` (the rest of a READY line, with its line ending).
fn parse_ready(rest: &[u8]) -> Option<Event> {
    let fields = decimal_fields(rest)?;
    match fields.as_slice() {
        [node] => Some(Event::Ready {
            node: node.parse().ok()?,
        }),
        _ => None,
    }
}

/// Splits the end of a marker line into space-separated decimal fields;
/// `None` unless the line consists of exactly such fields.
fn decimal_fields(rest: &[u8]) -> Option<Vec<&str>> {
    let text = std::str::from_utf8(rest).ok()?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    let fields: Vec<&str> = text.split(' ').collect();
    let decimal = |f: &&str| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit());
    fields.iter().all(decimal).then_some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(text: &str) -> Event {
        Event::Output(text.as_bytes().to_vec())
    }

    #[test]
    fn a_step_is_its_seq_and_the_script_in_padded_base64_on_one_line() {
        assert_eq!(encode_step(7, "uname -a"), b"7 dW5hbWUgLWE=\n");
    }

    #[test]
    fn a_multi_line_script_still_fits_on_one_line() {
        let frame = encode_step(1, "set -e\necho one\necho two\n");
        let text = String::from_utf8(frame).unwrap();
        assert_eq!(text.matches('\n').count(), 1);
        assert!(text.ends_with('\n'));
        let (seq, payload) = text.trim_end().split_once(' ').unwrap();
        assert_eq!(seq, "1");
        assert_eq!(
            STANDARD.decode(payload).unwrap(),
            b"set -e\necho one\necho two\n"
        );
    }

    #[test]
    fn the_ready_line_announces_the_node() {
        let mut d = Decoder::new();
        assert_eq!(d.feed(b"@@RSIO-READY 3\n"), vec![Event::Ready { node: 3 }]);
    }

    #[test]
    fn output_then_done_marker() {
        let mut d = Decoder::new();
        assert_eq!(
            d.feed(b"Linux node0 7.3\n@@RSIO-DONE 1 0\n"),
            vec![output("Linux node0 7.3\n"), Event::Done { seq: 1, rc: 0 }]
        );
    }

    #[test]
    fn partial_lines_are_buffered_until_their_newline() {
        let mut d = Decoder::new();
        assert_eq!(d.feed(b"hel"), vec![]);
        assert_eq!(d.pending(), b"hel");
        assert_eq!(d.feed(b"lo\n@@RSIO-DO"), vec![output("hello\n")]);
        assert_eq!(d.feed(b"NE 12 "), vec![]);
        assert_eq!(d.feed(b"3\n"), vec![Event::Done { seq: 12, rc: 3 }]);
        assert_eq!(d.pending(), b"");
    }

    #[test]
    fn byte_by_byte_delivery_decodes_the_same() {
        let stream = b"@@RSIO-READY 0\nout\n@@RSIO-DONE 2 127\n";
        let mut d = Decoder::new();
        let events: Vec<Event> = stream.iter().flat_map(|b| d.feed(&[*b])).collect();
        assert_eq!(
            events,
            vec![
                Event::Ready { node: 0 },
                output("out\n"),
                Event::Done { seq: 2, rc: 127 }
            ]
        );
    }

    #[test]
    fn output_without_a_final_newline_shares_the_line_with_the_marker() {
        let mut d = Decoder::new();
        assert_eq!(
            d.feed(b"no newline@@RSIO-DONE 4 1\n"),
            vec![output("no newline"), Event::Done { seq: 4, rc: 1 }]
        );
    }

    #[test]
    fn a_carriage_return_before_the_newline_is_tolerated() {
        let mut d = Decoder::new();
        assert_eq!(
            d.feed(b"@@RSIO-DONE 5 0\r\n"),
            vec![Event::Done { seq: 5, rc: 0 }]
        );
    }

    #[test]
    fn text_that_only_looks_like_a_marker_is_output() {
        let mut d = Decoder::new();
        for line in [
            "@@RSIO-DONE\n",
            "@@RSIO-DONE 1\n",
            "@@RSIO-DONE 1 0 extra\n",
            "@@RSIO-DONE one 0\n",
            "@@RSIO-DONE 1 -1\n",
            "@@RSIO-READY node0\n",
            "echo '@@RSIO-DONE 1 0' >&3\n",
        ] {
            assert_eq!(d.feed(line.as_bytes()), vec![output(line)], "{line:?}");
        }
    }

    #[test]
    fn non_utf8_output_passes_through_untouched() {
        let mut d = Decoder::new();
        assert_eq!(
            d.feed(b"\xff\xfe\n@@RSIO-DONE 1 0\n"),
            vec![
                Event::Output(b"\xff\xfe\n".to_vec()),
                Event::Done { seq: 1, rc: 0 }
            ]
        );
    }
}
