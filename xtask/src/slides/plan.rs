//! The running order of `slides/README.md` is the decks' own clock: each table's deck minutes are
//! the sums of that deck's speaker-note timings, each hands-on is what the level's "Your turn"
//! note gives (`then 25 min of work`), each row starts when the one above ends, and the day ends
//! by the hour it promises (its heading's `(9:00 to 17:30)` or `(4 h)`, and its last row's
//! `then questions until 17:30`).

use super::{slides, speaker_notes};

/// The section of `slides/README.md` that holds the plans.
const SECTION: &str = "## Running order";

/// Minutes since midnight (or since the start, for a plan that starts at `0:00`).
type Clock = u32;

fn parse_clock(text: &str) -> Option<Clock> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && m.to_string().len() <= 2).then_some(h * 60 + m)
}

fn show_clock(at: Clock) -> String {
    format!("{}:{:02}", at / 60, at % 60)
}

/// The minutes of every `~N min` in a deck's speaker notes: how long the deck takes.
pub fn deck_minutes(deck: &str) -> f64 {
    let mut total = 0.0;
    for slide in slides(deck) {
        for note in speaker_notes(&slide.text) {
            for after in note.split('~').skip(1) {
                let after = after.trim_start();
                let digits = after
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .count();
                if after[digits..].trim_start().starts_with("min") {
                    total += after[..digits].parse::<f64>().unwrap_or(0.0);
                }
            }
        }
    }
    total
}

/// The hands-on minutes a deck's notes give its level: `then N min of work`.
pub fn work_minutes(deck: &str) -> Option<u32> {
    deck.split("then ").skip(1).find_map(|after| {
        let words: Vec<&str> = after.split_whitespace().take(4).collect();
        // The last word may carry punctuation: "work.", "work:".
        let work = words.get(3)?.trim_end_matches(|c: char| !c.is_alphabetic());
        (words[1..3] == ["min", "of"] && work == "work")
            .then(|| words[0].parse().ok())
            .flatten()
    })
}

/// One plan: its heading, the hour it must end by, and its rows.
#[derive(Debug)]
pub struct Plan {
    pub heading: String,
    pub rows: Vec<Row>,
}

/// One row of a plan: where it is in the README, its start, and its parts.
#[derive(Debug)]
pub struct Row {
    pub line: usize,
    pub start: Clock,
    pub parts: Vec<Part>,
    /// `then questions until 17:30`: the hour the day ends.
    pub until: Option<Clock>,
}

#[derive(Debug, PartialEq)]
pub enum Part {
    /// `` `03-pivot-root.md` (32 min) ``
    Deck(String, u32),
    /// `hands-on level 3 (25 min)`
    HandsOn(usize, u32),
    /// `break (15 min)`, `lunch (45 min)`
    Pause(u32),
}

impl Part {
    fn minutes(&self) -> u32 {
        match self {
            Part::Deck(_, m) | Part::HandsOn(_, m) | Part::Pause(m) => *m,
        }
    }
}

/// The `(N min)` right after `text`'s start, and what follows it.
fn minutes_in(text: &str) -> Option<(u32, &str)> {
    let rest = text.trim_start().strip_prefix('(')?;
    let (inside, after) = rest.split_once(')')?;
    let minutes = inside.strip_suffix(" min")?.trim().parse().ok()?;
    Some((minutes, after))
}

/// The parts of a row's second cell, or what is not understood.
fn parse_parts(cell: &str) -> Result<(Vec<Part>, Option<Clock>), String> {
    let mut parts = Vec::new();
    let mut until = None;
    for piece in cell.split(", ") {
        let piece = piece.trim();
        if let Some(end) = piece.strip_prefix("then questions until ") {
            until = Some(parse_clock(end).ok_or(format!("`{end}` is not an hour"))?);
        } else if let Some(rest) = piece.strip_prefix('`') {
            let (deck, rest) = rest.split_once('`').ok_or("an unclosed `")?;
            let (m, _) = minutes_in(rest).ok_or(format!("`{deck}` has no `(N min)`"))?;
            parts.push(Part::Deck(deck.to_string(), m));
        } else if let Some(rest) = piece.strip_prefix("hands-on level ") {
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            let level = rest[..digits].parse().map_err(|_| "no level number")?;
            let (m, _) =
                minutes_in(&rest[digits..]).ok_or(format!("`{piece}` has no `(N min)`"))?;
            parts.push(Part::HandsOn(level, m));
        } else if let Some((_, rest)) = piece
            .split_once("break ")
            .or_else(|| piece.split_once("lunch "))
        {
            let (m, _) = minutes_in(rest).ok_or(format!("`{piece}` has no `(N min)`"))?;
            parts.push(Part::Pause(m));
        } else {
            return Err(format!(
                "`{piece}` is none of: `deck.md` (N min), hands-on level N (N min), break (N min), \
                 lunch (N min), then questions until H:MM"
            ));
        }
    }
    Ok((parts, until))
}

/// The plans of the README's running-order section, or what cannot be read.
pub fn plans(readme: &str) -> Result<Vec<Plan>, String> {
    let mut plans: Vec<Plan> = Vec::new();
    let mut inside = false;
    for (n, line) in readme.lines().enumerate() {
        if line.starts_with("## ") {
            inside = line == SECTION;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(heading) = line.strip_prefix("### ") {
            plans.push(Plan {
                heading: heading.to_string(),
                rows: Vec::new(),
            });
            continue;
        }
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
        let (Some(plan), true, [time, part]) =
            (plans.last_mut(), line.starts_with('|'), &cells[..])
        else {
            continue;
        };
        let Some(start) = parse_clock(time) else {
            continue; // the header and the `|---|` row
        };
        let (parts, until) = parse_parts(part).map_err(|e| format!("line {}: {e}", n + 1))?;
        plan.rows.push(Row {
            line: n + 1,
            start,
            parts,
            until,
        });
    }
    Ok(plans)
}

/// The hour a heading promises to end by: `(9:00 to 17:30)`, or `(4 h)` after the first start.
fn promised_end(heading: &str, start: Clock) -> Option<Clock> {
    let (_, inside) = heading.rsplit_once('(')?;
    let inside = inside.strip_suffix(')')?;
    if let Some((_, end)) = inside.split_once(" to ") {
        return parse_clock(end);
    }
    let hours: u32 = inside.strip_suffix(" h")?.trim().parse().ok()?;
    Some(start + hours * 60)
}

/// What disagrees between the plans and the decks. `deck(name)` is a deck's text.
pub fn problems(readme: &str, deck: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let plans = match plans(readme) {
        Ok(plans) => plans,
        Err(why) => return vec![format!("slides/README.md: {why}")],
    };
    let mut problems = Vec::new();
    if plans.is_empty() {
        problems.push(format!(
            "slides/README.md: no plan (`### …` and a table) under `{SECTION}`"
        ));
    }
    for plan in &plans {
        let at = |row: &Row| format!("slides/README.md:{} ({})", row.line, plan.heading);
        let Some(first) = plan.rows.first() else {
            problems.push(format!("slides/README.md: `{}` has no table", plan.heading));
            continue;
        };
        let mut clock = first.start;
        let mut last_deck = None;
        for row in &plan.rows {
            if row.start != clock {
                problems.push(format!(
                    "{}: starts at {}, but the row above ends at {}",
                    at(row),
                    show_clock(row.start),
                    show_clock(clock)
                ));
            }
            for part in &row.parts {
                match part {
                    Part::Deck(name, minutes) => {
                        last_deck = Some(name.clone());
                        let Some(text) = deck(name) else {
                            problems.push(format!("{}: there is no slides/{name}", at(row)));
                            continue;
                        };
                        let timed = deck_minutes(&text);
                        if (timed - f64::from(*minutes)).abs() > f64::EPSILON {
                            problems.push(format!(
                                "{}: `{name}` ({minutes} min), but its speaker notes add up to \
                                 {timed} min",
                                at(row)
                            ));
                        }
                    }
                    Part::HandsOn(level, minutes) => {
                        let dir = kit::ladder::LADDER.get(*level).map(|l| l.dir);
                        let work = dir.and_then(|d| deck(&format!("{d}.md"))).and_then(|t| {
                            let your_turn = slides(&t).pop()?.text;
                            work_minutes(&your_turn)
                        });
                        if last_deck.as_deref() != dir.map(|d| format!("{d}.md")).as_deref() {
                            problems.push(format!(
                                "{}: hands-on level {level} without its deck right before it",
                                at(row)
                            ));
                        }
                        if work != Some(*minutes) {
                            problems.push(format!(
                                "{}: hands-on level {level} ({minutes} min), but the last note \
                                 of its deck says {}",
                                at(row),
                                work.map_or("no `then N min of work`".to_string(), |w| format!(
                                    "then {w} min of work"
                                ))
                            ));
                        }
                    }
                    Part::Pause(_) => {}
                }
                clock += part.minutes();
            }
        }
        let last = plan.rows.last().unwrap_or(first);
        let Some(until) = last.until else {
            problems.push(format!(
                "{}: the last row ends with `then questions until H:MM`",
                at(last)
            ));
            continue;
        };
        if clock > until {
            problems.push(format!(
                "{}: the plan ends at {}, after {}: cut or shorten something",
                at(last),
                show_clock(clock),
                show_clock(until)
            ));
        }
        match promised_end(&plan.heading, first.start) {
            Some(end) if end == until => {}
            Some(end) => problems.push(format!(
                "{}: the heading promises {}, the last row {}",
                at(last),
                show_clock(end),
                show_clock(until)
            )),
            None => problems.push(format!(
                "slides/README.md: `{}` says neither `(H:MM to H:MM)` nor `(N h)`",
                plan.heading
            )),
        }
    }
    problems
}

#[test]
fn the_running_order_is_the_decks_own_clock_and_fits_its_hours() {
    let root = kit::paths::workspace_root();
    let readme = std::fs::read_to_string(root.join("slides/README.md")).expect("slides/README.md");
    let deck = |name: &str| std::fs::read_to_string(root.join("slides").join(name)).ok();
    let problems = problems(&readme, &deck);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_plan_that_disagrees_with_its_decks_or_overruns_is_caught() {
    let note = |t: &str| format!("<!-- speaker_note: >\n  {t}\n-->\n");
    let intro = format!(
        "x\n{}<!-- end_slide -->\ny\n{}",
        note("~3 min"),
        note("~2.5 min. ~1.5 min")
    );
    let level0 = format!(
        "a\n{}<!-- end_slide -->\nb\n{}",
        note("~9 min"),
        note("~1 min, then 20 min of work.")
    );
    assert_eq!(deck_minutes(&intro), 7.0);
    assert_eq!(work_minutes("~1 min, then 20 min of work: more"), Some(20));
    assert_eq!(work_minutes("~1 min, then 20 minutes"), None);
    let deck = |name: &str| match name {
        "intro.md" => Some(intro.clone()),
        "00-fork-exec.md" | "closing.md" => Some(level0.clone()),
        _ => None,
    };
    let readme = "## Running order\n\n### Short (9:00 to 10:00)\n\n| time | part |\n|---|---|\n\
        | 9:00 | `intro.md` (7 min) |\n\
        | 9:07 | `00-fork-exec.md` (10 min), hands-on level 0 (20 min) |\n\
        | 9:37 | break (5 min) |\n\
        | 9:42 | `closing.md` (10 min), then questions until 10:00 |\n\n## Next\n";
    assert_eq!(problems(readme, &deck), Vec::<String>::new());
    let said = |from: &str, to: &str| problems(&readme.replace(from, to), &deck).join("\n");
    assert!(said("`intro.md` (7 min)", "`intro.md` (5 min)").contains("add up to 7 min"));
    assert!(said("9:37 |", "9:40 |").contains("starts at 9:40, but the row above ends at 9:37"));
    assert!(said("level 0 (20 min)", "level 0 (25 min)").contains("says then 20 min of work"));
    assert!(said("break (5 min)", "lunch (20 min)").contains("ends at 10:07, after 10:00"));
    assert!(said("(9:00 to 10:00)", "(2 h)").contains("the heading promises 11:00"));
    assert!(said("`closing.md`", "`missing.md`").contains("there is no slides/missing.md"));
    assert!(said("| 9:37 | break", "| 9:37 | nap").contains("is none of"));
}
