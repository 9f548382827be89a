//! `checker room DIR`: the instructor's view of a room, from the JSON reports attendees made
//! (`checker levelN --format json > $(hostname).json`), one file per attendee. Who is at which
//! level, which check most of them fail now, and which machines cannot run a level, and why.
//! Reading and counting are here; the table people read is in `room/table.rs`.

mod table;

use crate::exit::{self, usage};
use crate::options::Format;
use crate::report::Summary;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// `checker room DIR [--format human|json]`.
pub fn room(dir: &Path, format: Format) -> Result<u8> {
    let room = Room::read(dir)?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&room)?),
        Format::Human => {
            crate::report::set_colour(std::io::stdout().is_terminal());
            print!("{}", table::render(&room));
        }
    }
    Ok(exit::PASSED)
}

/// What a report says, as far as the room needs it: the fields `report::JsonReport` writes
/// (README, "JSON output"); fields added later are ignored.
#[derive(Debug, Deserialize)]
pub struct Report {
    /// Only schema 1 exists; a report of another schema is listed as unreadable.
    pub schema: u32,
    /// `level3` or `all`: what the attendee ran.
    pub target: String,
    #[serde(default)]
    pub rootless: bool,
    pub host: Machine,
    pub checks: Vec<Checked>,
}

/// The machine a report was made on (`report::HostFacts`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Machine {
    pub kernel: String,
    pub arch: String,
    pub cgroups: String,
    pub cage: String,
}

/// One check's result in a report (`suite::CheckResult`).
#[derive(Debug, Deserialize)]
pub struct Checked {
    pub id: String,
    pub level: u32,
    pub title: String,
    pub status: Outcome,
    pub reason: Option<String>,
}

/// `suite::Status`, read back; a status added later reads as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
    Error,
    #[serde(other)]
    Other,
}

/// The whole room, as `--format json` prints it.
#[derive(Debug, Serialize)]
pub struct Room {
    pub schema: u32,
    pub dir: String,
    /// One per readable report, by name.
    pub attendees: Vec<Attendee>,
    /// The checks someone fails, most failed first.
    pub failing: Vec<Failing>,
    /// Levels a machine could not check, and why.
    pub blocked: Vec<Blocked>,
    pub unreadable: Vec<Unreadable>,
}

/// Where one attendee is.
#[derive(Debug, Serialize)]
pub struct Attendee {
    /// The report's file name without `.json`.
    pub name: String,
    pub target: String,
    /// The highest level whose checks, and those of every level below it, all passed.
    pub passed: Option<u32>,
    /// The level being written: the one checked, or the one after the last passed. None once
    /// the top of the ladder passed.
    pub working_on: Option<u32>,
    pub summary: Summary,
    pub rootless: bool,
    pub host: Machine,
}

/// A check that attendees fail.
#[derive(Debug, Serialize)]
pub struct Failing {
    pub id: String,
    pub level: u32,
    pub title: String,
    /// How many attendees fail it.
    pub failed: usize,
    /// How many attendees' reports gave it a verdict (passed or failed).
    pub decided: usize,
    pub attendees: Vec<String>,
}

/// A level one machine could not check, for a reason that is the machine's.
#[derive(Debug, Serialize)]
pub struct Blocked {
    pub attendee: String,
    pub level: u32,
    pub reason: String,
    /// The checks it left undecided.
    pub checks: Vec<String>,
}

/// A file in DIR that is not a report this checker can read.
#[derive(Debug, Serialize)]
pub struct Unreadable {
    pub file: String,
    pub reason: String,
}

impl Room {
    /// Every `*.json` in `dir`, by file name; a file that is not a report is listed, not fatal.
    pub fn read(dir: &Path) -> Result<Room> {
        let mut reports = Vec::new();
        let mut unreadable = Vec::new();
        for path in json_files(dir)? {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match read_report(&path) {
                Ok(report) => reports.push((name, report)),
                Err(reason) => unreadable.push(Unreadable {
                    file: file_name(&path),
                    reason,
                }),
            }
        }
        let mut room = Room::of(&reports);
        room.dir = crate::text::path_str(dir);
        room.unreadable = unreadable;
        Ok(room)
    }

    /// The room that `reports`, each with its attendee's name, make.
    pub fn of(reports: &[(String, Report)]) -> Room {
        Room {
            schema: 1,
            dir: String::new(),
            attendees: reports
                .iter()
                .map(|(name, report)| attendee(name, report))
                .collect(),
            failing: failing(reports),
            blocked: reports
                .iter()
                .flat_map(|(name, report)| blocked(name, report))
                .collect(),
            unreadable: Vec::new(),
        }
    }
}

/// The `*.json` files in `dir`, sorted; exit 2 when `dir` cannot be listed.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        usage(format!(
            "room {}: {e} (give the directory that holds the attendees' reports)",
            dir.display()
        ))
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One report, or why it cannot be read.
fn read_report(path: &Path) -> std::result::Result<Report, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    let report: Report = serde_json::from_str(&text)
        .map_err(|e| format!("not a report of `checker --format json`: {e}"))?;
    if report.schema != 1 {
        return Err(format!(
            "a report of schema {}; this checker reads schema 1",
            report.schema
        ));
    }
    Ok(report)
}

fn attendee(name: &str, report: &Report) -> Attendee {
    let passed = passed_level(&report.checks);
    Attendee {
        name: name.to_string(),
        target: report.target.clone(),
        passed,
        working_on: working_on(&report.target, passed),
        summary: summary(&report.checks),
        rootless: report.rootless,
        host: report.host.clone(),
    }
}

fn summary(checks: &[Checked]) -> Summary {
    let count = |outcome| checks.iter().filter(|c| c.status == outcome).count();
    Summary {
        passed: count(Outcome::Pass),
        failed: count(Outcome::Fail),
        skipped: count(Outcome::Skip),
        errors: count(Outcome::Error),
    }
}

/// The highest level of the ladder whose checks all passed, as did every level's below it: a
/// level is passed only on top of the ones it builds on. A level the report has no check of
/// ends the climb.
pub fn passed_level(checks: &[Checked]) -> Option<u32> {
    let mut passed = None;
    for level in kit::ladder::LADDER {
        let mut of_level = checks.iter().filter(|c| c.level == level.number).peekable();
        if of_level.peek().is_none() || !of_level.all(|c| c.status == Outcome::Pass) {
            break;
        }
        passed = Some(level.number);
    }
    passed
}

/// The level being written: the one `checker levelN` was run for, unless it and every level
/// below it passed (then the next one); after `checker all`, the one after the last passed.
/// None past the top of the ladder.
pub fn working_on(target: &str, passed: Option<u32>) -> Option<u32> {
    let next = passed.map_or(0, |n| n + 1);
    let checked = (target != "all")
        .then(|| crate::options::parse_target(target).ok())
        .flatten()
        .and_then(|levels| levels.last().copied());
    let level = checked.filter(|&n| n >= next).unwrap_or(next);
    kit::ladder::level(level).map(|l| l.number)
}

/// The checks attendees fail, most failed first; ties in ladder order.
pub fn failing(reports: &[(String, Report)]) -> Vec<Failing> {
    let mut by_id: BTreeMap<&str, Failing> = BTreeMap::new();
    for (name, report) in reports {
        for check in &report.checks {
            if !matches!(check.status, Outcome::Pass | Outcome::Fail) {
                continue;
            }
            let entry = by_id.entry(&check.id).or_insert_with(|| Failing {
                id: check.id.clone(),
                level: check.level,
                title: check.title.clone(),
                failed: 0,
                decided: 0,
                attendees: Vec::new(),
            });
            entry.decided += 1;
            if check.status == Outcome::Fail {
                entry.failed += 1;
                entry.attendees.push(name.clone());
            }
        }
    }
    let mut failing: Vec<Failing> = by_id.into_values().filter(|f| f.failed > 0).collect();
    failing.sort_by_key(|f| (std::cmp::Reverse(f.failed), f.level, ladder_position(&f.id)));
    failing
}

/// Where check `id` comes in its level, for ties; checks this checker does not know come last.
fn ladder_position(id: &str) -> usize {
    kit::ladder::LADDER
        .iter()
        .flat_map(|level| crate::levels::checks(level.number))
        .position(|check| check.id == id)
        .unwrap_or(usize::MAX)
}

/// The levels of one report that its machine could not check: the checks skipped or left
/// undecided for a reason of the host's, grouped by level and reason.
pub fn blocked(name: &str, report: &Report) -> Vec<Blocked> {
    let mut found: Vec<Blocked> = Vec::new();
    for check in report.checks.iter().filter(|c| blocked_by_host(c)) {
        let reason = check.reason.clone().unwrap_or_default();
        match found
            .iter_mut()
            .find(|b| b.level == check.level && b.reason == reason)
        {
            Some(same) => same.checks.push(check.id.clone()),
            None => found.push(Blocked {
                attendee: name.to_string(),
                level: check.level,
                reason,
                checks: vec![check.id.clone()],
            }),
        }
    }
    found
}

/// A check the machine kept from a verdict: one the checker could not run (`error`: the
/// environment), or one skipped for a reason other than the runtime's own failures (an earlier
/// level failed, or the level's runs hung): no namespaces, no overlayfs for users on this
/// kernel, cgroups out of reach without root.
fn blocked_by_host(check: &Checked) -> bool {
    let reason = check.reason.as_deref().unwrap_or("");
    match check.status {
        Outcome::Error => true,
        Outcome::Skip => {
            reason != crate::suite::EARLIER_LEVEL_FAILED
                && !reason.starts_with(&crate::suite::not_run_after_hang(""))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
