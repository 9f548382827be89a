//! The room as people read it: three tables that fit 100 columns.

use super::{Attendee, Blocked, Failing, Room};
use colored::Colorize;

/// The widest line printed.
const WIDTH: usize = 100;
/// Attendee names longer than this are cut (the JSON has them whole).
const NAME_WIDTH: usize = 16;
/// The most failed checks shown; `--format json` has them all.
const FAILING_SHOWN: usize = 10;

pub fn render(room: &Room) -> String {
    let mut out = format!(
        "{} {} from {}\n",
        "The room:".bold(),
        count(room.attendees.len(), "report", "reports"),
        room.dir
    );
    out.push_str(&who_is_where(&room.attendees));
    out.push_str(&most_failed(&room.failing));
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
    let rows: Vec<[String; 5]> = attendees
        .iter()
        .map(|a| {
            let passed = a.passed.map_or("-".to_string(), |n| format!("level {n}"));
            let working = match a.working_on.and_then(kit::ladder::level) {
                Some(level) => format!("level {} {}", level.number, level.dir),
                None => "every level passed".to_string(),
            };
            let failed = (a.summary.failed + a.summary.errors).to_string();
            [a.name.clone(), passed, working, failed, machine(a)]
        })
        .collect();
    let working_width = rows
        .iter()
        .map(|row| row[2].chars().count())
        .max()
        .unwrap_or(0)
        .max("working on".len());
    let line = |[name, passed, working, failed, machine]: &[String; 5]| {
        let line = format!(
            "  {:<name_width$}  {passed:<7}  {working:<working_width$}  {failed:>6}  {machine}",
            cut(name, name_width)
        );
        format!("{}\n", cut(line.trim_end(), WIDTH))
    };
    let header = ["attendee", "passed", "working on", "failed", "machine"].map(String::from);
    out.push_str(&dimmed(&line(&header)));
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}

/// `6.1.0-18-amd64, cgroups v2, rootless`.
fn machine(a: &Attendee) -> String {
    let rootless = if a.rootless { ", rootless" } else { "" };
    format!("{}, cgroups {}{rootless}", a.host.kernel, a.host.cgroups)
}

/// The checks most attendees fail, with who fails them.
fn most_failed(failing: &[Failing]) -> String {
    let mut out = format!(
        "\n{}\n",
        "Most failed checks (failed by / decided for)".bold()
    );
    if failing.is_empty() {
        out.push_str("  none: every check that ran passed\n");
        return out;
    }
    let shown = &failing[..failing.len().min(FAILING_SHOWN)];
    let id_width = shown.iter().map(|f| f.id.len()).max().unwrap_or(0);
    for f in shown {
        let counted = format!("{:>3} / {:<3}", f.failed, f.decided);
        let start = format!("  {counted}  {:<id_width$}  ", f.id);
        let title = cut(&f.title, WIDTH.saturating_sub(start.chars().count()));
        out.push_str(&format!(
            "  {}  {:<id_width$}  {}\n",
            counted.red(),
            f.id,
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
    out
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
