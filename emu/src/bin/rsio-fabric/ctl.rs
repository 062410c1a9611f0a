//! `rsio-fabric ctl`: sends one control request to a running fabric and
//! prints the reply line (JSON) on stdout.
//!
//! The command words are checked here first, with the server's own parser,
//! so a typo is a usage error (exit 2) without a round trip. A reply with
//! `"ok":false` is also printed, its message repeated on stderr, and exits 1
//! (2 if the server found the request malformed).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use rsio_emu::control::{ErrorKind, Request};

use crate::cli::CtlArgs;
use crate::layout::Layout;
use crate::Failure;

/// How long to wait for the server's reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest reply line read: a `status` of 16 nodes is a few KiB.
const MAX_REPLY_LEN: u64 = 1 << 20;

/// Sends the command and reports the reply.
pub fn run(args: &CtlArgs) -> Result<(), Failure> {
    let request =
        Request::parse(&args.command.join(" ")).map_err(|e| Failure::Usage(e.to_string()))?;
    let socket = Layout::new(&args.dir).control_socket();
    let reply = exchange(&socket, &request).map_err(|e| {
        Failure::Failed(format!(
            "cannot talk to the fabric at {}: {e}",
            socket.display()
        ))
    })?;
    let _ = writeln!(std::io::stdout(), "{reply}");
    outcome(&reply)
}

/// Sends `request` on a new connection to `socket` and returns the reply
/// line, without its newline.
fn exchange(socket: &std::path::Path, request: &Request) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    stream.set_write_timeout(Some(REPLY_TIMEOUT))?;
    let line = format!("{request}\n");
    stream.write_all(line.as_bytes())?;
    let mut reply = String::new();
    BufReader::new(stream)
        .take(MAX_REPLY_LEN)
        .read_line(&mut reply)?;
    if !reply.ends_with('\n') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the connection closed before a whole reply arrived",
        ));
    }
    reply.pop();
    Ok(reply)
}

/// What the reply says about the request.
fn outcome(reply: &str) -> Result<(), Failure> {
    let malformed = || {
        Failure::Failed(format!(
            "the fabric's reply is not a control reply: {reply}"
        ))
    };
    let value: serde_json::Value = serde_json::from_str(reply).map_err(|_| malformed())?;
    match value["ok"].as_bool() {
        Some(true) => Ok(()),
        Some(false) => {
            let message = value["error"]
                .as_str()
                .unwrap_or("the fabric refused without saying why")
                .to_owned();
            match value["kind"].as_str().and_then(ErrorKind::from_wire) {
                Some(ErrorKind::Usage) => Err(Failure::Usage(message)),
                _ => Err(Failure::Failed(message)),
            }
        }
        None => Err(malformed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_decide_the_exit_code() {
        assert!(outcome(r#"{"ok":true,"shutdown":true}"#).is_ok());
        let refused = outcome(r#"{"ok":false,"kind":"refused","error":"no node 7"}"#);
        assert!(matches!(refused, Err(Failure::Failed(m)) if m == "no node 7"));
        let usage = outcome(r#"{"ok":false,"kind":"usage","error":"unknown command"}"#);
        assert!(matches!(usage, Err(Failure::Usage(m)) if m == "unknown command"));
    }

    #[test]
    fn replies_that_are_not_the_protocol_are_failures() {
        for reply in ["", "ok", "[1]", r#"{"ok":"yes"}"#] {
            assert!(matches!(outcome(reply), Err(Failure::Failed(_))), "{reply}");
        }
        assert!(matches!(
            outcome(r#"{"ok":false}"#),
            Err(Failure::Failed(_))
        ));
    }
}
