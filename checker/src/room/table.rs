//! The room as people read it: three tables that fit 100 columns.

use super::{Attendee, Blocked, Failing, NotStarted, Readiness, Room};
use colored::Colorize;

/// The widest line printed.
const WIDTH: usize = 100;
/// Attendee names longer than this are cut (the JSON has them whole).
const NAME_WIDTH: usize = 16;
/// The most failed checks shown; `--format json` has them all.
const FAILING_SHOWN: usize = 10;

pub fn render(room: &Room) -> String {
    let mut out = format!(
        "{} {} from {}, at {} UTC\n",
        "The room:".bold(),
        count(
            room.attendees.len() + room.host_checks.len() + room.machines.len(),
            "report",
            "reports"
        ),
        room.dir,
        room.now.trim_end_matches('Z').replace('T', " ")
    );
    out.push_str(&who_is_where(&room.attendees));
    out.push_str(&most_failed(&room.failing, &room.not_started));
    out.push_str(&machines(&room.host_checks, &room.machines));
    out.push_str(&cannot_run(&room.blocked));
    if !room.unreadable.is_empty() {
        out.push_str(&format!("\n{}\n", "Not read (not counted above)".bold()));
        for file in &room.unreadable {
            out.push_str(&indented(&format!("{}: {}", file.file, file.reason), 2, 4));
        }
    }
    out
}

/// One line per attendee: the level passed, the level worked on, failed checks, the machine.
fn who_is_where(attendees: &[Attendee]) -> String {
    let mut out = format!(
        "\n{}\n",
        "Who is where (passed: that level and every one below it)".bold()
    );
    if attendees.is_empty() {
        out.push_str("  no reports yet: each attendee runs `checker levelN --format json > $(hostname).json`\n");
        return out;
    }
    let name_width = attendees
        .iter()
        .map(|a| a.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp("attendee".len(), NAME_WIDTH);
    let rows: Vec<[String; 6]> = attendees
        .iter()
        .map(|a| {
            let passed = a.passed.map_or("-".to_string(), |n| format!("level {n}"));
            let working = match a.working_on.and_then(kit::ladder::level) {
                Some(level) => level.dir.to_string(),
                None => "every level passed".to_string(),
            };
            let failed = (a.summary.failed + a.summary.errors).to_string();
            [a.name.clone(), passed, working, failed, made(a), machine(a)]
        })
        .collect();
    let header = [
        "attendee",
        "passed",
        "working on",
        "failed",
        "report",
        "machine",
    ]
    .map(String::from);
    let width = |column: usize| {
        rows.iter()
            .chain([&header])
            .map(|row| row[column].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (passed_width, working_width, made_width) = (width(1), width(2), width(4));
    let line = |[name, passed, working, failed, made, machine]: &[String; 6]| {
        let line = format!(
            "  {:<name_width$}  {passed:<passed_width$}  {working:<working_width$}  {failed:>6}  \
             {made:<made_width$}  {machine}",
            cut(name, name_width)
        );
        format!("{}\n", cut(line.trim_end(), WIDTH))
    };
    out.push_str(&dimmed(&line(&header)));
    for (row, attendee) in rows.iter().zip(attendees) {
        let text = line(row);
        out.push_str(&if attendee.stale {
            text.trim_end().yellow().to_string() + "\n"
        } else {
            text
        });
    }
    if attendees.iter().any(|a| a.stale) {
        out.push_str(&format!(
            "  (stale: no report for over {} min)\n",
            super::STALE_AFTER_SECS / 60
        ));
    }
    out
}

/// `12 min ago`, `2 h ago (stale)`, `?` for a report that does not say.
fn made(a: &Attendee) -> String {
    let made = a.age.clone().unwrap_or_else(|| "?".into());
    if a.stale {
        format!("{made} (stale)")
    } else {
        made
    }
}

/// `6.1.0-18-amd64, cgroups v2, rootless`.
fn machine(a: &Attendee) -> String {
    let rootless = if a.rootless { ", rootless" } else { "" };
    format!("{}, cgroups {}{rootless}", a.host.kernel, a.host.cgroups)
}

/// What most attendees fail, with who fails it; then who has not started.
fn most_failed(failing: &[Failing], not_started: &[NotStarted]) -> String {
    let mut out = format!(
        "\n{}\n",
        "Most failed checks (failed by / decided for)".bold()
    );
    if failing.is_empty() {
        out.push_str("  none: every check that ran passed\n");
    }
    let shown = &failing[..failing.len().min(FAILING_SHOWN)];
    let id = |f: &Failing| match f.checks.len() {
        n if f.cause.is_some() && n > 1 => format!("{} +{}", f.id, n - 1),
        _ => f.id.clone(),
    };
    let id_width = shown.iter().map(|f| id(f).len()).max().unwrap_or(0);
    for f in shown {
        let counted = format!("{:>3} / {:<3}", f.failed, f.decided);
        let id = id(f);
        let start = format!("  {counted}  {id:<id_width$}  ");
        let title = match &f.cause {
            Some(cause) => short_cause(cause),
            None => f.title.clone(),
        };
        let title = cut(&title, WIDTH.saturating_sub(start.chars().count()));
        out.push_str(&format!(
            "  {}  {id:<id_width$}  {}\n",
            counted.red(),
            title.dimmed()
        ));
        out.push_str(
            &indented(&f.attendees.join(", "), 13, 13)
                .dimmed()
                .to_string(),
        );
    }
    if failing.len() > FAILING_SHOWN {
        out.push_str(&format!(
            "  … and {} more (`--format json` lists them all)\n",
            failing.len() - FAILING_SHOWN
        ));
    }
    for n in not_started {
        let who = format!(
            "Not started level {} (its skeleton runs no command yet): {}",
            n.level,
            n.attendees.join(", ")
        );
        out.push_str(&indented(&who, 2, 4));
    }
    out
}

/// The machines checked with the reference solutions (`--solution`) and by `checker doctor`:
/// no one's code, only whether the machine runs the workshop.
fn machines(host_checks: &[Attendee], doctors: &[Readiness]) -> String {
    if host_checks.is_empty() && doctors.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n{}\n",
        "Machines (checker doctor, and --solution runs: not counted above)".bold()
    );
    let name_width = host_checks
        .iter()
        .map(|a| a.name.chars().count())
        .chain(doctors.iter().map(|d| d.name.chars().count()))
        .max()
        .unwrap_or(0)
        .min(NAME_WIDTH);
    for d in doctors {
        let said = match &d.first_missing {
            None if d.ready => "doctor: ready, every level can run here".to_string(),
            None => "doctor: not ready".to_string(),
            Some(missing) => format!("doctor: not ready: {missing}"),
        };
        out.push_str(&labelled(&d.name, name_width, &said));
    }
    for a in host_checks {
        let level = a.target.trim_start_matches("level");
        let verdict = match a.summary.failed + a.summary.errors {
            0 if a.summary.skipped == 0 => "every check passed".to_string(),
            0 => format!("passed, {} skipped", a.summary.skipped),
            n => format!("{} failed", n),
        };
        let said = format!("solution to level {level}: {verdict} ({})", made(a));
        out.push_str(&labelled(&a.name, name_width, &said));
    }
    out
}

/// `  name   text`, the text wrapped under itself.
fn labelled(name: &str, name_width: usize, text: &str) -> String {
    let indent = name_width + 4;
    let wrapped = indented(text, indent, indent);
    format!(
        "  {:<name_width$}  {}",
        cut(name, name_width),
        &wrapped[indent..]
    )
}

/// A cause in a few words: the runtime's own error line first.
fn short_cause(cause: &str) -> String {
    let first = cause.lines().next().unwrap_or_default();
    match first.split_once(", saying: ") {
        Some((_, said)) if first.starts_with("your runtime gave up") => format!("gave up: {said}"),
        _ => first.to_string(),
    }
}

/// Each level a machine could not check, and the reason it gave.
fn cannot_run(blocked: &[Blocked]) -> String {
    let mut out = format!("\n{}\n", "Machines that cannot run a level".bold());
    if blocked.is_empty() {
        out.push_str("  none: no check was left undecided by a machine\n");
        return out;
    }
    for b in blocked {
        let what = format!(
            "{}: level {} ({}): {}",
            b.attendee,
            b.level,
            count(b.checks.len(), "check", "checks"),
            b.reason
        );
        out.push_str(&indented(&what, 2, 6));
    }
    out
}

/// Each line of `lines` dimmed, the line ends left plain (a terminal may not reset colour at a
/// line's end).
fn dimmed(lines: &str) -> String {
    lines
        .lines()
        .map(|line| format!("{}\n", line.dimmed()))
        .collect()
}

/// `1 report`, `3 reports`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `text` cut to `width` characters, ending in `…` when cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// `text` wrapped at word boundaries to fit [`WIDTH`]: the first line indented by `first`
/// spaces, the others by `rest`.
fn indented(text: &str, first: usize, rest: usize) -> String {
    let mut out = String::new();
    let mut line = " ".repeat(first);
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = " ".repeat(rest);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}
