//! What the runner prints on stdout: one line per step and node, a PASS or
//! FAIL line per scenario (a failure with an excerpt of the step output and
//! console), and the closing summary.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::console::tail;

/// How many lines of step output and console a failure shows.
pub const EXCERPT_LINES: usize = 40;
const INDENT: &str = "    ";

/// Why a scenario failed, and where to look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    /// The node whose output and console explain the failure.
    pub node: Option<usize>,
    /// The failing step's output on that node, partial if it did not finish.
    pub output: Option<Vec<u8>>,
    /// Further evidence, e.g. the console lines that matched a reject pattern.
    pub details: Vec<String>,
}

impl Failure {
    pub fn new(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            ..Failure::default()
        }
    }

    pub fn on(mut self, node: usize) -> Failure {
        self.node = Some(node);
        self
    }

    pub fn with_output(mut self, output: Vec<u8>) -> Failure {
        self.output = Some(output);
        self
    }

    pub fn with_details(mut self, details: Vec<String>) -> Failure {
        self.details = details;
        self
    }
}

/// Formats a duration as seconds with one decimal, e.g. `1.2s`.
pub fn secs(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

/// `  [node0] load module ... ok (1.2s)` or `... FAILED (1.2s)`; `place`
/// is `node<i>` or `host`.
pub fn step_line(place: &str, step: &str, passed: bool, duration: Duration) -> String {
    let verdict = if passed { "ok" } else { "FAILED" };
    format!("  [{place}] {step} ... {verdict} ({})", secs(duration))
}

/// `RUN  <name>: <description>`, printed before a scenario starts; the
/// description is put on one line.
pub fn run_line(name: &str, description: Option<&str>) -> String {
    let words: Vec<&str> = description.unwrap_or_default().split_whitespace().collect();
    if words.is_empty() {
        format!("RUN  {name}")
    } else {
        format!("RUN  {name}: {}", words.join(" "))
    }
}

/// `PASS <name> (<secs>s)`.
pub fn pass_line(name: &str, duration: Duration) -> String {
    format!("PASS {name} ({})", secs(duration))
}

/// `FAIL <name>: <reason>`, then the evidence, indented: further details,
/// the tail of the failing step's output and the tail of the node's console
/// (a failure of no particular node, e.g. a host step's, has no console).
pub fn fail_report(name: &str, failure: &Failure, console: &str, logs: &Path) -> String {
    let mut text = format!("FAIL {name}: {}\n", failure.reason);
    for detail in &failure.details {
        let _ = writeln!(text, "{INDENT}{detail}");
    }
    if let Some(output) = &failure.output {
        let place = match failure.node {
            Some(node) => format!("node{node}"),
            None => "host".to_owned(),
        };
        let output = String::from_utf8_lossy(output);
        excerpt(&mut text, &format!("{place} step output"), &output);
    }
    if let Some(node) = failure.node {
        excerpt(&mut text, &format!("node{node} console"), console);
    }
    let _ = writeln!(text, "{INDENT}logs: {}", logs.display());
    text
}

fn excerpt(text: &mut String, title: &str, body: &str) {
    let lines = tail(body, EXCERPT_LINES);
    if lines.is_empty() {
        let _ = writeln!(text, "{INDENT}--- {title}: empty ---");
        return;
    }
    let _ = writeln!(text, "{INDENT}--- {title} (last {} lines) ---", lines.len());
    for line in lines {
        let _ = writeln!(text, "{INDENT}{}", line.trim_end_matches('\r'));
    }
}

/// The closing line, in the plain form CI counts: `cluster: P passed, F failed`.
pub fn summary(passed: usize, failed: usize) -> String {
    format!("cluster: {passed} passed, {failed} failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lines_name_node_step_verdict_and_time() {
        assert_eq!(
            step_line("node0", "uname", true, Duration::from_millis(1234)),
            "  [node0] uname ... ok (1.2s)"
        );
        assert_eq!(
            step_line("node3", "load", false, Duration::from_secs(30)),
            "  [node3] load ... FAILED (30.0s)"
        );
        assert_eq!(
            step_line("host", "link down", true, Duration::from_millis(80)),
            "  [host] link down ... ok (0.1s)"
        );
    }

    #[test]
    fn scenario_lines() {
        assert_eq!(
            pass_line("smoke", Duration::from_millis(25_460)),
            "PASS smoke (25.5s)"
        );
        assert_eq!(
            run_line("smoke", Some("one node\nboots\n")),
            "RUN  smoke: one node boots"
        );
        assert_eq!(run_line("smoke", None), "RUN  smoke");
        assert_eq!(summary(2, 1), "cluster: 2 passed, 1 failed");
    }

    #[test]
    fn a_failure_shows_the_tails_of_output_and_console_indented() {
        let output: String = (1..=50).map(|i| format!("out {i}\n")).collect();
        let failure = Failure::new("step \"load\" on node 1: exit code 1, expected 0")
            .on(1)
            .with_output(output.into_bytes());
        let text = fail_report(
            "boot",
            &failure,
            "[ 1.0] booted\r\n",
            Path::new("target/cluster-logs/boot"),
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "FAIL boot: step \"load\" on node 1: exit code 1, expected 0"
        );
        assert_eq!(lines[1], "    --- node1 step output (last 40 lines) ---");
        assert_eq!(lines[2], "    out 11");
        assert_eq!(lines[41], "    out 50");
        assert_eq!(lines[42], "    --- node1 console (last 1 lines) ---");
        assert_eq!(lines[43], "    [ 1.0] booted");
        assert_eq!(lines[44], "    logs: target/cluster-logs/boot");
        assert_eq!(lines.len(), 45);
    }

    #[test]
    fn details_come_first_and_an_empty_console_says_so() {
        let failure = Failure::new("console matches")
            .on(0)
            .with_details(vec!["BUG: x".into()]);
        let text = fail_report("s", &failure, "", Path::new("l"));
        assert_eq!(
            text,
            "FAIL s: console matches\n    BUG: x\n    --- node0 console: empty ---\n    logs: l\n"
        );
    }

    #[test]
    fn a_failed_host_step_shows_its_output_but_no_console() {
        let failure = Failure::new("host step \"link down\": exit code 2, expected 0")
            .with_output(b"rsio-fabric: no such node 7\n".to_vec());
        let text = fail_report("s", &failure, "ignored", Path::new("l"));
        assert_eq!(
            text,
            "FAIL s: host step \"link down\": exit code 2, expected 0\n    \
             --- host step output (last 1 lines) ---\n    rsio-fabric: no such node 7\n    logs: l\n"
        );
    }

    #[test]
    fn a_failure_of_no_particular_node_has_no_excerpt() {
        let text = fail_report(
            "s",
            &Failure::new("cannot start QEMU"),
            "ignored",
            Path::new("l"),
        );
        assert_eq!(text, "FAIL s: cannot start QEMU\n    logs: l\n");
    }
}
