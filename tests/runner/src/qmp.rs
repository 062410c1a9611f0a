//! A small QMP client: `rsio-cluster qmp SOCKET JSON` for host steps, and
//! the runner's own brief talks with an expansion chassis's QEMU (is it
//! running, quit).
//!
//! QMP (QEMU's machine protocol) is JSON objects, one per line, over the
//! socket of `-qmp unix:PATH,server=on,wait=off`: QEMU greets with
//! `{"QMP": ...}`, the client enters command mode with
//! `{"execute":"qmp_capabilities"}`, then each command gets a reply
//! `{"return": ...}` or `{"error": {"class": ..., "desc": ...}}`;
//! asynchronous events (`{"event": ...}`) may come in between. Such a
//! server serves one client at a time: a second one is accepted only when
//! the first hangs up, so every connection here is short, and the runner
//! keeps none open while host steps run.
//!
//! The runner has no JSON library, so [`Json`] is a minimal parser and
//! printer, enough for QMP.

use std::fmt;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

/// How long a QMP exchange (connect, greeting, capabilities, command) may
/// take in all.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// An `{"error": ...}` reply: QEMU refused the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QmpError {
    /// The error's `desc`.
    pub desc: String,
}

impl fmt::Display for QmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.desc)
    }
}

impl std::error::Error for QmpError {}

/// A connection in command mode.
#[derive(Debug)]
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    deadline: Instant,
}

impl Qmp {
    /// Connects to the QMP socket at `path`, reads the greeting and
    /// negotiates capabilities; this and every later command must be done
    /// within `timeout` from now.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Qmp> {
        let deadline = Instant::now() + timeout;
        let stream = UnixStream::connect(path)
            .with_context(|| format!("cannot connect to QMP at {}", path.display()))?;
        let writer = stream
            .try_clone()
            .context("cannot duplicate a QMP socket")?;
        let mut qmp = Qmp {
            reader: BufReader::new(stream),
            writer,
            deadline,
        };
        let greeting = qmp
            .read_message()
            .context("no QMP greeting (is another client connected?)")?;
        ensure!(
            greeting.get("QMP").is_some(),
            "not a QMP greeting: {greeting}"
        );
        qmp.execute(&Json::command("qmp_capabilities"))
            .context("qmp_capabilities")?;
        Ok(qmp)
    }

    /// Runs `command` (an object with `execute`) and returns its reply's
    /// `return`; an `error` reply is a [`QmpError`].
    pub fn execute(&mut self, command: &Json) -> Result<Json> {
        let line = format!("{command}\n");
        self.writer
            .set_write_timeout(Some(self.left()?))
            .context("cannot set a QMP timeout")?;
        self.writer
            .write_all(line.as_bytes())
            .context("cannot send a QMP command")?;
        loop {
            let reply = self.read_message()?;
            if reply.get("event").is_some() {
                continue;
            }
            if let Some(value) = reply.get("return") {
                return Ok(value.clone());
            }
            if let Some(error) = reply.get("error") {
                let desc = match error.get("desc") {
                    Some(Json::String(desc)) => desc.clone(),
                    _ => error.to_string(),
                };
                return Err(QmpError { desc }.into());
            }
            bail!("an unexpected QMP message: {reply}");
        }
    }

    /// The time left until the deadline; an error once it has passed.
    fn left(&self) -> Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        ensure!(!left.is_zero(), "QMP did not answer in time");
        Ok(left)
    }

    /// Reads the next message (one JSON object per line).
    fn read_message(&mut self) -> Result<Json> {
        loop {
            let left = self.left()?;
            self.reader
                .get_ref()
                .set_read_timeout(Some(left))
                .context("cannot set a QMP timeout")?;
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => bail!("QMP closed the connection"),
                Ok(_) if line.trim().is_empty() => continue,
                Ok(_) => {
                    return Json::parse(&line)
                        .with_context(|| format!("QMP sent bad JSON: {:?}", line.trim_end()))
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    bail!("QMP did not answer within {}s", TIMEOUT.as_secs())
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("cannot read from QMP"),
            }
        }
    }
}

/// `rsio-cluster qmp SOCKET JSON`: runs one command (`command`, JSON text
/// of an object with `execute`) and returns its reply's `return`.
pub fn run_command(socket: &Path, command: &Json) -> Result<Json> {
    Qmp::connect(socket, TIMEOUT)?.execute(command)
}

/// Checks that `text` is one QMP command: a JSON object with `execute` (or
/// `exec-oob`) naming it.
pub fn parse_command(text: &str) -> Result<Json> {
    let command = Json::parse(text).context("the command is not valid JSON")?;
    ensure!(
        matches!(command, Json::Object(_)),
        "the command must be a JSON object, like {{\"execute\":\"query-status\"}}"
    );
    ensure!(
        matches!(command.get("execute"), Some(Json::String(_)))
            || matches!(command.get("exec-oob"), Some(Json::String(_))),
        "the command has no \"execute\" naming it"
    );
    Ok(command)
}

/// A JSON value. Numbers keep their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Members in their order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// `{"execute": name}`.
    pub fn command(name: &str) -> Json {
        Json::Object(vec![("execute".into(), Json::String(name.into()))])
    }

    /// An object's member `key`.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Parses one JSON value (surrounding whitespace allowed).
    pub fn parse(text: &str) -> Result<Json> {
        let mut parser = Parser {
            text: text.as_bytes(),
            at: 0,
        };
        let value = parser.value(0)?;
        parser.blank();
        ensure!(
            parser.at == parser.text.len(),
            "trailing characters at byte {}",
            parser.at
        );
        Ok(value)
    }
}

/// Compact JSON.
impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Number(n) => f.write_str(n),
            Json::String(s) => write_string(f, s),
            Json::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Json::Object(members) => {
                f.write_str("{")?;
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_string(f, key)?;
                    write!(f, ":{value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// Nesting deeper than this is refused (no stack overflow on bad input).
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn blank(&mut self) {
        while self
            .text
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Result<u8> {
        self.blank();
        self.text
            .get(self.at)
            .copied()
            .context("unexpected end of JSON")
    }

    fn expect(&mut self, byte: u8) -> Result<()> {
        let got = self.peek()?;
        ensure!(
            got == byte,
            "expected {:?} at byte {}, found {:?}",
            byte as char,
            self.at,
            got as char
        );
        self.at += 1;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Json> {
        ensure!(depth < MAX_DEPTH, "JSON nested too deeply");
        match self.peek()? {
            b'{' => {
                self.at += 1;
                let mut members = Vec::new();
                if self.peek()? == b'}' {
                    self.at += 1;
                    return Ok(Json::Object(members));
                }
                loop {
                    ensure!(
                        self.peek()? == b'"',
                        "expected a member name at byte {}",
                        self.at
                    );
                    let key = self.string()?;
                    self.expect(b':')?;
                    members.push((key, self.value(depth + 1)?));
                    match self.peek()? {
                        b',' => self.at += 1,
                        b'}' => {
                            self.at += 1;
                            return Ok(Json::Object(members));
                        }
                        other => bail!(
                            "expected ',' or '}}' at byte {}, found {:?}",
                            self.at,
                            other as char
                        ),
                    }
                }
            }
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                if self.peek()? == b']' {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    match self.peek()? {
                        b',' => self.at += 1,
                        b']' => {
                            self.at += 1;
                            return Ok(Json::Array(items));
                        }
                        other => bail!(
                            "expected ',' or ']' at byte {}, found {:?}",
                            self.at,
                            other as char
                        ),
                    }
                }
            }
            b'"' => Ok(Json::String(self.string()?)),
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'n' => self.literal("null", Json::Null),
            b'-' | b'0'..=b'9' => self.number(),
            other => bail!("unexpected {:?} at byte {}", other as char, self.at),
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json> {
        ensure!(
            self.text[self.at..].starts_with(word.as_bytes()),
            "bad literal at byte {}",
            self.at
        );
        self.at += word.len();
        Ok(value)
    }

    fn number(&mut self) -> Result<Json> {
        let start = self.at;
        while self
            .text
            .get(self.at)
            .is_some_and(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
        {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.text[start..self.at]).expect("ASCII");
        ensure!(
            text.parse::<f64>().is_ok() && !text.starts_with('+'),
            "bad number {text:?} at byte {start}"
        );
        Ok(Json::Number(text.to_owned()))
    }

    /// A string, the opening quote next.
    fn string(&mut self) -> Result<String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let byte = *self.text.get(self.at).context("unterminated JSON string")?;
            self.at += 1;
            match byte {
                b'"' => return String::from_utf8(out).context("a JSON string is not UTF-8"),
                b'\\' => {
                    let escape = *self.text.get(self.at).context("unterminated JSON string")?;
                    self.at += 1;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode()?,
                        other => bail!("bad escape \\{} in a JSON string", other as char),
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                b if b < 0x20 => bail!("a control character in a JSON string"),
                b => out.push(b),
            }
        }
    }

    /// The code point of a `\u` escape and its four hex digits (a surrogate
    /// pair takes two escapes); `\u` already read.
    fn unicode(&mut self) -> Result<char> {
        let high = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&high) {
            ensure!(
                self.text[self.at..].starts_with(b"\\u"),
                "a lone surrogate in a JSON string"
            );
            self.at += 2;
            let low = self.hex4()?;
            ensure!(
                (0xdc00..0xe000).contains(&low),
                "a bad surrogate pair in a JSON string"
            );
            0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00)
        } else {
            high
        };
        char::from_u32(code).context("a bad \\u escape in a JSON string")
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .context("a short \\u escape in a JSON string")?;
        let value = u32::from_str_radix(digits, 16).context("a bad \\u escape")?;
        self.at += 4;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::net::UnixListener;
    use std::sync::mpsc;

    #[test]
    fn json_round_trips_compactly() {
        let text = r#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "x\"y\\z\n\u00e9\ud83d\ude00"}, "d": {}} "#;
        let value = Json::parse(text).unwrap();
        assert_eq!(
            value.to_string(),
            "{\"a\":[1,-2.5e3,true,false,null],\"b\":{\"c\":\"x\\\"y\\\\z\\né😀\"},\"d\":{}}"
        );
        assert_eq!(Json::parse(&value.to_string()).unwrap(), value);
        assert_eq!(value.get("d"), Some(&Json::Object(vec![])));
        assert_eq!(value.get("e"), None);
        for bad in [
            "",
            "{",
            "{\"a\" 1}",
            "[1,]",
            "\"\\q\"",
            "01x",
            "{} {}",
            "tru",
            "+1",
        ] {
            assert!(Json::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Json::parse(&"[".repeat(100)).is_err(), "nesting is bounded");
    }

    #[test]
    fn a_command_is_one_object_with_execute() {
        let c = parse_command(r#"{"execute":"device_del","arguments":{"id":"nvme1"}}"#).unwrap();
        assert_eq!(
            c.to_string(),
            r#"{"execute":"device_del","arguments":{"id":"nvme1"}}"#
        );
        let e = parse_command("[1]").unwrap_err();
        assert!(format!("{e:#}").contains("must be a JSON object"), "{e:#}");
        let e = parse_command(r#"{"arguments":{}}"#).unwrap_err();
        assert!(format!("{e:#}").contains("no \"execute\""), "{e:#}");
        let e = parse_command("{execute}").unwrap_err();
        assert!(format!("{e:#}").contains("not valid JSON"), "{e:#}");
    }

    /// A fake QMP server on `path` that greets, answers the capabilities
    /// negotiation, then plays `replies` (each sent after reading one
    /// command line); reports every line it received.
    fn fake_server(path: &Path, replies: Vec<&'static str>) -> mpsc::Receiver<Vec<String>> {
        let listener = UnixListener::bind(path).unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut out = stream.try_clone().unwrap();
            out.write_all(
                b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 9}}, \
                  \"capabilities\": [\"oob\"]}}\r\n",
            )
            .unwrap();
            let mut lines = BufReader::new(stream).lines();
            let mut received = Vec::new();
            let capabilities = lines.next().unwrap().unwrap();
            received.push(capabilities);
            out.write_all(b"{\"return\": {}}\r\n").unwrap();
            for reply in replies {
                let Some(Ok(line)) = lines.next() else { break };
                received.push(line);
                out.write_all(reply.as_bytes()).unwrap();
            }
            // Until the client hangs up.
            for _ in lines {}
            tx.send(received).unwrap();
        });
        rx
    }

    #[test]
    fn a_command_gets_its_return_skipping_events() {
        let dir = TempDir::new("qmp-ok");
        let socket = dir.path().join("node2.qmp");
        let received = fake_server(
            &socket,
            vec![concat!(
                "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"DEVICE_DELETED\", ",
                "\"data\": {\"device\": \"nvme1\"}}\r\n",
                "{\"return\": {\"status\": \"running\", \"running\": true}}\r\n"
            )],
        );
        let command = parse_command(r#"{ "execute": "query-status" }"#).unwrap();
        let value = run_command(&socket, &command).unwrap();
        assert_eq!(value.to_string(), r#"{"status":"running","running":true}"#);
        assert_eq!(
            received.recv_timeout(TIMEOUT).unwrap(),
            [
                r#"{"execute":"qmp_capabilities"}"#,
                r#"{"execute":"query-status"}"#
            ]
        );
    }

    #[test]
    fn an_error_reply_is_a_qmp_error_with_its_desc() {
        let dir = TempDir::new("qmp-err");
        let socket = dir.path().join("q");
        let _received = fake_server(
            &socket,
            vec!["{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device 'nvme9' not found\"}}\n"],
        );
        let command =
            parse_command(r#"{"execute":"device_del","arguments":{"id":"nvme9"}}"#).unwrap();
        let e = run_command(&socket, &command).unwrap_err();
        assert_eq!(
            e.downcast_ref::<QmpError>().map(|e| e.desc.as_str()),
            Some("Device 'nvme9' not found")
        );
    }

    #[test]
    fn a_silent_server_times_out() {
        let dir = TempDir::new("qmp-mute");
        let socket = dir.path().join("q");
        let listener = UnixListener::bind(&socket).unwrap();
        let started = Instant::now();
        let e = Qmp::connect(&socket, Duration::from_millis(300)).unwrap_err();
        assert!(
            format!("{e:#}").contains("no QMP greeting (is another client connected?)"),
            "{e:#}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(listener);
        let e = Qmp::connect(&dir.path().join("none"), TIMEOUT).unwrap_err();
        assert!(
            format!("{e:#}").contains("cannot connect to QMP at"),
            "{e:#}"
        );
    }
}
