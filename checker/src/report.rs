//! Human and JSON output of check results.

use crate::suite::{CheckResult, Status};
use colored::Colorize;
use serde::Serialize;

/// Lines of learner output shown per stream in the human report.
const OUTPUT_LINES: usize = 12;

/// Colour only on a terminal and never with NO_COLOR.
pub fn set_colour(stdout_is_terminal: bool) {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    colored::control::set_override(stdout_is_terminal && !no_color);
}

/// `Level 3 — pivot_root…  (what runs it)`.
pub fn level_header(level: &kit::ladder::Level, runtime: &str) -> String {
    let title = format!("Level {} — {}", level.number, level.title);
    format!("\n{}  {}", title.bold(), format!("({runtime})").dimmed())
}

/// One check's result, with the failure details.
pub fn human(result: &CheckResult) -> String {
    let mark = match result.status {
        Status::Pass => "✓".green(),
        Status::Fail => "✗".red(),
        Status::Skip => "·".dimmed(),
        Status::Error => "!".yellow(),
    };
    let mut out = format!("  {mark} {}  {}", result.id, result.title.dimmed());
    let mut field = |name: &str, value: &str| {
        for (i, line) in value.lines().enumerate() {
            let label = if i == 0 { name } else { "" };
            out.push_str(&format!("\n      {:<10}{line}", label.bold()));
        }
    };
    if result.status == Status::Skip
        && result.reason.as_deref() != Some(crate::suite::EARLIER_LEVEL_FAILED)
    {
        if let Some(reason) = &result.reason {
            field("skipped", reason);
        }
    }
    // The real cause first: it explains everything below it.
    if let Some(cause) = &result.cause {
        field("cause", cause);
    }
    if result.status == Status::Error {
        field("error", result.reason.as_deref().unwrap_or(""));
    }
    if let Some(expected) = &result.expected {
        field("expected", expected);
    }
    if let Some(observed) = &result.observed {
        field("observed", observed);
    }
    if let Some(tree) = &result.at_timeout {
        field(
            "running",
            &format!("at the timeout, the runtime's processes were:\n{tree}"),
        );
    }
    if let Some(reproduce) = &result.reproduce {
        field("reproduce", reproduce);
    }
    if let Some(output) = &result.output {
        let shown = learner_output(output);
        if !shown.is_empty() {
            field("output", &shown);
        }
    }
    if let Some(hint) = result.hint {
        field("hint", hint);
    }
    if matches!(result.status, Status::Fail | Status::Error) {
        field("docs", result.doc);
    }
    // Someone else's host change beside a failure may explain it; beside a pass it is only
    // counted, in the summary (a laptop running Docker would note one under every check).
    if let Some(note) = result
        .note
        .as_ref()
        .filter(|_| result.status != Status::Pass)
    {
        field("note", note);
    }
    out
}

/// The id of the first failure whose runtime gave up before running the command with the same
/// error as `result`'s (its details were shown then); remembers `result` when it is the first.
pub fn same_setup_failure(
    result: &CheckResult,
    first: &mut Option<(String, &'static str)>,
) -> Option<&'static str> {
    // Only a failure that every run repeats is said once.
    same_cause_said(result)?;
    let cause = result
        .same_cause
        .clone()
        .or_else(|| result.cause.clone())
        .unwrap_or_default();
    match first {
        Some((shown, id)) if *shown == cause => Some(*id),
        _ => {
            *first = Some((cause, result.id));
            None
        }
    }
}

/// A failure with the same cause as one shown above: one line that points at it, not seven
/// copies of the same error and of hints about what the command would have done.
pub fn human_same_cause(result: &CheckResult, first: &str) -> String {
    format!(
        "  {} {}  {}\n      {:<10}the same as {first}: {}",
        "✗".red(),
        result.id,
        result.title.dimmed(),
        "cause".bold(),
        same_cause_said(result).unwrap_or_default()
    )
}

/// What a failure that every run repeats comes down to, in a few words, by its hint: None for
/// any other failure (its details are its own).
fn same_cause_said(result: &CheckResult) -> Option<&'static str> {
    match result.hint {
        Some(crate::suite::SETUP_FAILED_HINT) => {
            Some("the runtime gave up before running the command")
        }
        Some(crate::suite::ROOT_IS_IMAGE_DIR_HINT) => {
            Some("the command was not found: the container's / is the image dir")
        }
        _ => None,
    }
}

/// The learner's output, each line prefixed with its stream, capped.
fn learner_output(output: &crate::suite::Output) -> String {
    let mut lines = Vec::new();
    for (stream, text) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let all: Vec<&str> = text.lines().collect();
        for line in all.iter().take(OUTPUT_LINES) {
            // The probe's own line is for the checker; it would drown the learner's output.
            let line = if line.starts_with(probe::MARKER) {
                "[the probe's report line]"
            } else {
                line
            };
            lines.push(format!("{stream} │ {line}"));
        }
        if all.len() > OUTPUT_LINES {
            lines.push(format!(
                "{stream} │ … {} more lines",
                all.len() - OUTPUT_LINES
            ));
        }
    }
    if output.truncated_bytes > 0 {
        lines.push(format!(
            "(and {} more bytes, not captured)",
            output.truncated_bytes
        ));
    }
    lines.join("\n")
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub errors: usize,
}

pub fn summarize(results: &[CheckResult]) -> Summary {
    let count = |s| results.iter().filter(|r| r.status == s).count();
    Summary {
        passed: count(Status::Pass),
        failed: count(Status::Fail),
        skipped: count(Status::Skip),
        errors: count(Status::Error),
    }
}

/// The closing lines of the human report.
pub fn human_summary(summary: &Summary, results: &[CheckResult], target: &str) -> String {
    let mut out = format!(
        "\n{} passed, {} failed, {} skipped",
        summary.passed, summary.failed, summary.skipped
    );
    if summary.errors > 0 {
        out.push_str(&format!(", {} could not run", summary.errors));
    }
    let noted = results
        .iter()
        .filter(|r| r.status == Status::Pass && r.note.is_some())
        .count();
    if noted > 0 {
        out.push_str(&format!(
            "\nOther software changed the host's mounts, links or cgroups while {noted} passed {} \
             ran; none of it was counted against your runtime (`--format json` has each note).",
            if noted == 1 { "check" } else { "checks" }
        ));
    }
    let first_bad = results
        .iter()
        .find(|r| matches!(r.status, Status::Fail | Status::Error));
    match first_bad {
        None => out.push_str(&format!(
            "\n{}",
            format!("{target}: every check passed.").green().bold()
        )),
        Some(bad) => {
            if results
                .iter()
                .any(|r| r.reason.as_deref() == Some(crate::suite::EARLIER_LEVEL_FAILED))
            {
                // The level worked on runs even after an earlier one failed.
                let ran_later = results
                    .iter()
                    .filter(|r| r.level > bad.level && r.status != Status::Skip)
                    .map(|r| r.level)
                    .max();
                let except = ran_later.map_or(String::new(), |n| format!(" (level {n} still ran)"));
                out.push_str(&format!(
                    "\nStopped after level {}{except}: fix {} first (or pass --keep-going).",
                    bad.level, bad.id
                ));
            } else {
                out.push_str(&format!("\nFirst to fix: {}.", bad.id));
            }
        }
    }
    out
}

/// The JSON document: stable field names (add fields, never rename).
#[derive(Serialize)]
pub struct JsonReport<'a> {
    pub schema: u32,
    pub target: &'a str,
    pub runtime: String,
    pub result: &'static str,
    /// The process exit code this run ends with (README, "Exit codes").
    pub exit_code: u8,
    /// The guide of the highest level checked.
    pub guide: String,
    pub duration_ms: u64,
    /// Checked with `--rootless`: the runtime ran as root in a user namespace.
    pub rootless: bool,
    pub host: HostFacts,
    pub summary: Summary,
    pub checks: &'a [CheckResult],
    /// When the report was made, UTC (`2026-12-05T13:26:16Z`): the room shows its age.
    pub made_at: String,
    /// What ran: `own` (the attendee's levelN crate), `solution` (`--solution`: the reference,
    /// a check of the machine) or `runtime` (`--runtime PATH`, the path in `runtime`).
    pub checked: &'static str,
}

/// What an instructor collecting a room's reports needs to know about each machine.
#[derive(Serialize)]
pub struct HostFacts {
    /// `uname -r`.
    pub kernel: String,
    pub arch: String,
    /// `v1`, `v2`, `hybrid` or `none`.
    pub cgroups: &'static str,
    /// The mounted cgroup hierarchies: `memory /sys/fs/cgroup/memory`, `unified /sys/fs/cgroup`.
    pub cgroup_hierarchies: Vec<String>,
    /// How the learner's runs were bounded: the cage's limits, or why there was none.
    pub cage: String,
    pub checker_version: &'static str,
}

impl HostFacts {
    pub fn read() -> HostFacts {
        let layout = crate::cgroups::host_layout();
        let uname = nix::sys::utsname::uname().ok();
        let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
            uname
                .as_ref()
                .map(|u| f(u).to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        HostFacts {
            kernel: field(nix::sys::utsname::UtsName::release),
            arch: field(nix::sys::utsname::UtsName::machine),
            cgroups: layout.kind(),
            cgroup_hierarchies: layout
                .hierarchies
                .iter()
                .map(|h| format!("{} {}", h.name, h.mount_point.display()))
                .collect(),
            cage: match crate::run::no_cage_reason() {
                None => format!(
                    "memory {} MiB, {} processes, per run",
                    crate::cgroups::MEMORY_LIMIT >> 20,
                    crate::cgroups::PIDS_LIMIT
                ),
                Some(why) => format!("none ({why}): runs were bounded by their process group only"),
            },
            checker_version: env!("CARGO_PKG_VERSION"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: Status, note: Option<&str>) -> CheckResult {
        let check = &crate::levels::checks(0)[0];
        let mut result = crate::suite::skipped(check, "");
        result.reason = None;
        result.status = status;
        result.note = note.map(String::from);
        result
    }

    #[test]
    fn a_note_shows_beside_a_failure_and_is_only_counted_beside_a_pass() {
        set_colour(false);
        let note = "the host's mount table changed during this check: …";
        assert!(!human(&result(Status::Pass, Some(note))).contains(note));
        assert!(human(&result(Status::Fail, Some(note))).contains(note));
        let results = [
            result(Status::Pass, Some(note)),
            result(Status::Pass, Some(note)),
            result(Status::Pass, None),
        ];
        let said = human_summary(&summarize(&results), &results, "level0");
        assert!(said.contains("while 2 passed checks ran"), "{said}");
        let quiet = [result(Status::Pass, None)];
        let said = human_summary(&summarize(&quiet), &quiet, "level0");
        assert!(!said.contains("Other software"), "{said}");
    }
}
