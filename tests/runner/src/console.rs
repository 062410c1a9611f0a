//! Reading guest output: the last lines of a log, and the lines of a
//! console log that match the scenario's `console_reject` patterns.

use std::path::Path;

use regex::Regex;

/// The last `n` lines of `text` (a final newline does not start a line).
pub fn tail(text: &str, n: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// Reads a log as text, replacing invalid UTF-8; a missing file reads empty.
pub fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// The lines of `console` that match any of `patterns`, trimmed of the
/// serial line's carriage returns.
pub fn rejected_lines<'a>(console: &'a str, patterns: &[Regex]) -> Vec<&'a str> {
    console
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| patterns.iter().any(|p| p.is_match(line)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), ["b", "c"]);
        assert_eq!(tail("a\nb", 5), ["a", "b"]);
        assert!(tail("", 3).is_empty());
    }

    #[test]
    fn rejected_lines_are_reported_whole() {
        let patterns = [
            Regex::new("BUG:").unwrap(),
            Regex::new("Call Trace").unwrap(),
        ];
        let console = "[ 1.0] booting\r\n[ 2.0] BUG: unable to handle page fault\r\n[ 2.1]  Call Trace:\r\n[ 2.2] ok\r\n";
        assert_eq!(
            rejected_lines(console, &patterns),
            [
                "[ 2.0] BUG: unable to handle page fault",
                "[ 2.1]  Call Trace:"
            ]
        );
        assert!(rejected_lines("all fine\n", &patterns).is_empty());
    }

    #[test]
    fn a_missing_log_reads_empty() {
        assert_eq!(read_lossy(Path::new("/nonexistent/rsio/log")), "");
    }
}
