//! Judging a step's run on one node against the step's expectations.

use crate::node::{Ending, StepRun};
use crate::qemu::describe_exit;
use crate::report::secs;
use crate::scenario::Step;

/// Why a step failed on a node; empty if it passed.
pub fn problems(step: &Step, run: &StepRun) -> Vec<String> {
    let rc = match run.ending {
        Ending::Finished(rc) => rc,
        Ending::TimedOut => return vec![format!("timed out after {}", secs(step.timeout))],
        Ending::VmExited(status) => {
            return vec![format!(
                "QEMU exited during the step ({})",
                describe_exit(status)
            )]
        }
    };
    let output = String::from_utf8_lossy(&run.output);
    let mut problems = Vec::new();
    if rc != step.expect_rc {
        problems.push(format!("exit code {rc}, expected {}", step.expect_rc));
    }
    for pattern in &step.expect {
        if !pattern.is_match(&output) {
            problems.push(format!("output lacks /{pattern}/"));
        }
    }
    for pattern in &step.reject {
        if let Some(found) = pattern.find(&output) {
            let line = line_around(&output, found.start());
            problems.push(format!("output matches rejected /{pattern}/: {line:?}"));
        }
    }
    problems
}

/// The line of `text` containing byte `at`.
fn line_around(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    text[start..end].trim_end_matches('\r')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use std::os::unix::process::ExitStatusExt;
    use std::path::Path;
    use std::process::ExitStatus;
    use std::time::Duration;

    fn step(keys: &str) -> Step {
        let text = format!("[[step]]\nrun = 'x'\n{keys}\n");
        Scenario::parse(Path::new("s.toml"), &text)
            .unwrap()
            .steps
            .remove(0)
    }

    fn run(output: &str, ending: Ending<i32>) -> StepRun {
        StepRun {
            output: output.as_bytes().to_vec(),
            ending,
            duration: Duration::from_millis(1200),
        }
    }

    #[test]
    fn a_step_passes_with_the_expected_exit_code_and_output() {
        let s = step("expect_rc = 2\nexpect = ['^ready$', 'node\\d']\nreject = ['error']");
        assert!(problems(&s, &run("node0\nready\n", Ending::Finished(2))).is_empty());
    }

    #[test]
    fn a_wrong_exit_code_fails() {
        assert_eq!(
            problems(&step(""), &run("", Ending::Finished(1))),
            ["exit code 1, expected 0"]
        );
    }

    #[test]
    fn every_expected_pattern_must_match() {
        let s = step("expect = ['alpha', 'beta']");
        assert_eq!(
            problems(&s, &run("alpha\n", Ending::Finished(0))),
            ["output lacks /beta/"]
        );
    }

    #[test]
    fn a_rejected_pattern_fails_and_shows_its_line() {
        let s = step("reject = ['[Ee]rror']");
        assert_eq!(
            problems(
                &s,
                &run("ok\ninsmod: Error: bad\nmore\n", Ending::Finished(0))
            ),
            ["output matches rejected /[Ee]rror/: \"insmod: Error: bad\""]
        );
    }

    #[test]
    fn all_problems_are_listed_together() {
        let s = step("expect = ['done']\nreject = ['oops']");
        assert_eq!(problems(&s, &run("oops", Ending::Finished(3))).len(), 3);
    }

    #[test]
    fn timeouts_and_dead_vms_fail_regardless_of_output() {
        let s = step("timeout = 5");
        assert_eq!(
            problems(&s, &run("", Ending::TimedOut)),
            ["timed out after 5.0s"]
        );
        let killed = ExitStatus::from_raw(9);
        assert_eq!(
            problems(&s, &run("", Ending::VmExited(killed))),
            ["QEMU exited during the step (killed by signal 9)"]
        );
    }
}
