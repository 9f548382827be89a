//! `checker room DIR`: the instructor's view of a room, from the JSON reports attendees made
//! (`checker levelN --format json > $(hostname).json`), one file per attendee. Who is at which
//! level, which check most of them fail now, and which machines cannot run a level, and why.
//! Reading and counting are here; the table people read is in `room/table.rs`, the page and
//! the collecting server of `--serve` in `room/serve.rs`.

pub mod clock;
pub mod serve;
mod table;

use crate::exit::{self, usage};
use crate::options::Format;
use crate::report::Summary;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// A report older than this is marked stale: its attendee has not checked for a while.
pub const STALE_AFTER_SECS: u64 = 30 * 60;

/// The error level 0's skeleton gives up with (solutions/runtime.rs): an attendee not started.
pub const NOT_STARTED: &str = "no command runs yet";

/// `checker room DIR [--format human|json] [--serve ADDR] [--now TIMESTAMP]`.
pub fn room(dir: &Path, format: Format, serve: Option<&str>, now: Option<&str>) -> Result<u8> {
    let now = match now {
        None => None,
        Some(text) => Some(clock::parse_utc(text).ok_or_else(|| {
            usage(format!(
                "--now {text}: give a UTC time such as 2026-12-05T13:26:16Z"
            ))
        })?),
    };
    if let Some(address) = serve {
        return serve::serve_at(address, dir, now).map(|_| exit::PASSED);
    }
    let room = Room::read(dir, now.unwrap_or_else(clock::now))?;
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
    /// When it was made (`2026-12-05T13:26:16Z`); absent from reports of older checkers.
    #[serde(default)]
    pub made_at: Option<String>,
    /// `own`, `solution` or `runtime` (`report::JsonReport`); absent from older reports.
    #[serde(default)]
    pub checked: Option<String>,
}

/// What `checker doctor --format json` says, as far as the room needs it (`doctor::Diagnosis`).
#[derive(Debug, Deserialize)]
pub struct DoctorReport {
    pub schema: u32,
    /// `ready` or `not ready`.
    pub result: String,
    pub host: Machine,
    pub levels: Vec<DoctorLevel>,
}

/// One level of a doctor's report.
#[derive(Debug, Deserialize)]
pub struct DoctorLevel {
    pub level: u32,
    pub runs: bool,
    pub why: Option<String>,
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
    #[serde(default)]
    pub cause: Option<String>,
    #[serde(default)]
    pub hint: Option<String>,
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
    /// The time the ages are counted from, UTC.
    pub now: String,
    /// One per readable report of an attendee's code (`own` or `--runtime`), by name.
    pub attendees: Vec<Attendee>,
    /// The reports of `--solution` runs: the reference checked on a machine, not anyone's code.
    /// Not counted in `attendees` nor `failing`.
    pub host_checks: Vec<Attendee>,
    /// What attendees fail, most failed first: a check, or one cause that failed several.
    pub failing: Vec<Failing>,
    /// The levels whose skeleton some attendees have not started (it runs no command yet).
    pub not_started: Vec<NotStarted>,
    /// Levels a machine could not check, and why.
    pub blocked: Vec<Blocked>,
    /// Each `NAME.doctor.json`: is that machine ready.
    pub machines: Vec<Readiness>,
    pub unreadable: Vec<Unreadable>,
}

/// Attendees whose level-`level` skeleton is still untouched.
#[derive(Debug, Serialize)]
pub struct NotStarted {
    pub level: u32,
    pub attendees: Vec<String>,
}

/// What `checker doctor` said on one machine.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// The file name without `.doctor.json`.
    pub name: String,
    pub ready: bool,
    /// The first level that cannot run there, and why.
    pub first_missing: Option<String>,
    pub host: Machine,
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
    /// `own`, `solution`, `runtime`, or `unknown` for a report that does not say.
    pub checked: String,
    /// When the report was made, UTC, if it says.
    pub made_at: Option<String>,
    /// Its age then: `12 min ago`.
    pub age: Option<String>,
    /// Older than 30 minutes: the attendee has not checked for a while.
    pub stale: bool,
}

/// A check that attendees fail, or several that failed for one cause.
#[derive(Debug, Serialize)]
pub struct Failing {
    /// The check, or the first of the checks failed for `cause`.
    pub id: String,
    pub level: u32,
    pub title: String,
    /// The one cause of every check in `checks` (the runtime gave up before running the
    /// command), or None for a single check's own failure.
    pub cause: Option<String>,
    pub checks: Vec<String>,
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
    /// Every `*.json` in `dir`, by file name (`NAME.doctor.json`: a doctor's report); a file
    /// that is not a report is listed, not fatal. Ages are counted up to `now`.
    pub fn read(dir: &Path, now: u64) -> Result<Room> {
        let mut reports = Vec::new();
        let mut doctors = Vec::new();
        let mut unreadable = Vec::new();
        for path in json_files(dir)? {
            let file = file_name(&path);
            let read = std::fs::read_to_string(&path).map_err(|e| format!("cannot read it: {e}"));
            let outcome = match file.strip_suffix(".doctor.json") {
                Some(name) => read
                    .and_then(|text| parse_doctor(&text))
                    .map(|doctor| doctors.push((name.to_string(), doctor))),
                None => read.and_then(|text| parse_report(&text)).map(|report| {
                    reports.push((file.trim_end_matches(".json").to_string(), report))
                }),
            };
            if let Err(reason) = outcome {
                unreadable.push(Unreadable { file, reason });
            }
        }
        let mut room = Room::of(&reports, now);
        room.machines = doctors.iter().map(|(name, d)| readiness(name, d)).collect();
        room.dir = crate::text::path_str(dir);
        room.unreadable = unreadable;
        Ok(room)
    }

    /// The room that `reports`, each with its attendee's name, make at time `now`.
    pub fn of(reports: &[(String, Report)], now: u64) -> Room {
        let (host_checks, attendees): (Vec<_>, Vec<_>) = reports
            .iter()
            .partition(|(_, report)| report.checked.as_deref() == Some("solution"));
        let attendees: Vec<(String, &Report)> =
            attendees.into_iter().map(|(n, r)| (n.clone(), r)).collect();
        Room {
            schema: 1,
            dir: String::new(),
            now: clock::utc(now),
            attendees: attendees
                .iter()
                .map(|(name, report)| attendee(name, report, now))
                .collect(),
            host_checks: host_checks
                .iter()
                .map(|(name, report)| attendee(name, report, now))
                .collect(),
            failing: failing(&attendees),
            not_started: not_started(&attendees),
            blocked: reports
                .iter()
                .flat_map(|(name, report)| blocked(name, report))
                .collect(),
            machines: Vec::new(),
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

/// One check report, or why it cannot be read.
pub fn parse_report(text: &str) -> std::result::Result<Report, String> {
    let report: Report = serde_json::from_str(text)
        .map_err(|e| format!("not a report of `checker --format json`: {e}"))?;
    if report.schema != 1 {
        return Err(format!(
            "a report of schema {}; this checker reads schema 1",
            report.schema
        ));
    }
    Ok(report)
}

/// One doctor's report, or why it cannot be read.
pub fn parse_doctor(text: &str) -> std::result::Result<DoctorReport, String> {
    let doctor: DoctorReport = serde_json::from_str(text)
        .map_err(|e| format!("not a report of `checker doctor --format json`: {e}"))?;
    if doctor.schema != 1 {
        return Err(format!(
            "a doctor's report of schema {}; this checker reads schema 1",
            doctor.schema
        ));
    }
    Ok(doctor)
}

fn readiness(name: &str, doctor: &DoctorReport) -> Readiness {
    let missing = doctor.levels.iter().find(|l| !l.runs);
    Readiness {
        name: name.to_string(),
        ready: doctor.result == "ready" && missing.is_none(),
        first_missing: missing.map(|l| {
            format!(
                "level {}: {}",
                l.level,
                l.why.as_deref().unwrap_or("cannot run here")
            )
        }),
        host: doctor.host.clone(),
    }
}

fn attendee(name: &str, report: &Report, now: u64) -> Attendee {
    let passed = passed_level(&report.checks);
    let made = report.made_at.as_deref().and_then(clock::parse_utc);
    Attendee {
        name: name.to_string(),
        target: report.target.clone(),
        passed,
        working_on: working_on(&report.target, passed),
        summary: summary(&report.checks),
        rootless: report.rootless,
        host: report.host.clone(),
        checked: report.checked.clone().unwrap_or_else(|| "unknown".into()),
        made_at: report.made_at.clone(),
        age: made.map(|made| clock::age(made, now)),
        stale: made.is_some_and(|made| now.saturating_sub(made) > STALE_AFTER_SECS),
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

/// What attendees fail, most failed first, ties in ladder order: each check, except that the
/// checks of one level that failed because the runtime gave up before running the command are
/// one row per cause (the same error fails every check of the level), and an untouched
/// skeleton is not a failure at all (`not_started`).
pub fn failing<R: std::borrow::Borrow<Report>>(reports: &[(String, R)]) -> Vec<Failing> {
    let mut rows: BTreeMap<(u32, String), Failing> = BTreeMap::new();
    let mut decided_by: BTreeMap<(u32, String), Vec<&str>> = BTreeMap::new();
    for (name, report) in reports {
        let report = report.borrow();
        let decided: Vec<&Checked> = report
            .checks
            .iter()
            .filter(|c| matches!(c.status, Outcome::Pass | Outcome::Fail))
            .collect();
        for check in &decided {
            let cause = gave_up(check);
            if cause.is_some_and(|c| c.contains(NOT_STARTED)) {
                continue;
            }
            let key = (check.level, cause.unwrap_or(&check.id).to_string());
            let deciders = decided_by.entry(key.clone()).or_default();
            if !deciders.contains(&name.as_str()) {
                deciders.push(name);
            }
            let row = rows.entry(key).or_insert_with(|| Failing {
                id: check.id.clone(),
                level: check.level,
                title: check.title.clone(),
                cause: cause.map(String::from),
                checks: Vec::new(),
                failed: 0,
                decided: 0,
                attendees: Vec::new(),
            });
            if check.status == Outcome::Fail {
                if !row.checks.contains(&check.id) {
                    row.checks.push(check.id.clone());
                }
                if !row.attendees.contains(name) {
                    row.attendees.push(name.clone());
                    row.failed += 1;
                }
            }
        }
    }
    let mut failing: Vec<Failing> = rows
        .into_iter()
        .filter(|(_, f)| f.failed > 0)
        .map(|(key, mut f)| {
            // A cause's row starts at the first check it failed, and is decided by whoever's
            // report decided the checks of that level.
            if let Some(first) = f.checks.first() {
                f.id = first.clone();
            }
            f.decided = match f.cause {
                Some(_) => reports
                    .iter()
                    .filter(|(_, r)| {
                        r.borrow().checks.iter().any(|c| {
                            c.level == f.level && matches!(c.status, Outcome::Pass | Outcome::Fail)
                        })
                    })
                    .count(),
                None => decided_by.get(&key).map_or(0, Vec::len),
            };
            f
        })
        .collect();
    failing.sort_by_key(|f| (std::cmp::Reverse(f.failed), f.level, ladder_position(&f.id)));
    failing
}

/// The cause of a check that failed because the runtime gave up before running the command.
fn gave_up(check: &Checked) -> Option<&str> {
    (check.status == Outcome::Fail
        && check.hint.as_deref() == Some(crate::suite::SETUP_FAILED_HINT))
    .then_some(check.cause.as_deref())
    .flatten()
}

/// Per level, the attendees whose skeleton is untouched: a check of theirs failed with the
/// skeleton's own error.
pub fn not_started<R: std::borrow::Borrow<Report>>(reports: &[(String, R)]) -> Vec<NotStarted> {
    let mut by_level: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (name, report) in reports {
        let levels: std::collections::BTreeSet<u32> = report
            .borrow()
            .checks
            .iter()
            .filter(|c| gave_up(c).is_some_and(|cause| cause.contains(NOT_STARTED)))
            .map(|c| c.level)
            .collect();
        for level in levels {
            by_level.entry(level).or_default().push(name.clone());
        }
    }
    by_level
        .into_iter()
        .map(|(level, attendees)| NotStarted { level, attendees })
        .collect()
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
