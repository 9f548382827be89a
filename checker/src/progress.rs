//! The attendee's progress: one line per level, `level3 pass <fingerprint>`, in a plain-text file
//! (`target/rubber-crab/checker/progress`) that `checker list` reads.
//!
//! The file is recomputed, not trusted: the fingerprint is a hash of the level's files when it
//! was checked, and a level whose files changed since is shown as not checked. Its line
//! `checked level3 <ns since the epoch>` says which crate was checked last, and when its files
//! were read: where the attendee is (see [`where_you_are`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn path() -> PathBuf {
    crate::prepare::checker_home().join("progress")
}

/// A level's state, recomputed from the last result and the level's files now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Passed,
    Failed,
    /// Never checked, or its files changed since it was.
    NotChecked,
}

/// One recorded result: `pass` or `fail`, and the fingerprint of the level's files then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub result: String,
    pub fingerprint: String,
}

pub fn parse(text: &str) -> BTreeMap<u32, Record> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let level = words.next()?.strip_prefix("level")?.parse().ok()?;
            let result = words.next()?.to_string();
            let fingerprint = words.next().unwrap_or("").to_string();
            Some((
                level,
                Record {
                    result,
                    fingerprint,
                },
            ))
        })
        .collect()
}

fn load() -> BTreeMap<u32, Record> {
    parse(&std::fs::read_to_string(path()).unwrap_or_default())
}

/// The crate checked last, and when its files were read for it (ns since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastCheck {
    pub level: u32,
    pub at: u128,
}

/// The `checked levelN <ns>` line, if any.
pub fn parse_last_check(text: &str) -> Option<LastCheck> {
    text.lines().rev().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next()? == "checked").then_some(())?;
        let level = words.next()?.strip_prefix("level")?.parse().ok()?;
        let at = words.next()?.parse().ok()?;
        Some(LastCheck { level, at })
    })
}

fn nanos(time: std::time::SystemTime) -> u128 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The state of a level given its record and its files' fingerprint now.
pub fn state_of(record: Option<&Record>, fingerprint_now: &str) -> State {
    match record {
        Some(r) if r.fingerprint == fingerprint_now && r.result == "pass" => State::Passed,
        Some(r) if r.fingerprint == fingerprint_now => State::Failed,
        _ => State::NotChecked,
    }
}

/// Every level's state now.
pub fn states() -> BTreeMap<u32, State> {
    let records = load();
    let checked = kit::ladder::LADDER
        .iter()
        .map(|level| {
            let now = fingerprint(level);
            (level.number, state_of(records.get(&level.number), &now))
        })
        .collect();
    with_levels_below_a_pass(checked)
}

/// A passed level N ran the checks of levels 0..N and passed them too: an attendee who started
/// at level N (a late arrival, an instructor's "start at level 4") has those levels behind them.
/// A level that failed on its own crate stays failed.
pub fn with_levels_below_a_pass(mut states: BTreeMap<u32, State>) -> BTreeMap<u32, State> {
    let highest_pass = states
        .iter()
        .filter(|(_, s)| **s == State::Passed)
        .map(|(n, _)| *n)
        .max();
    if let Some(highest) = highest_pass {
        for (_, state) in states.range_mut(..highest) {
            if *state == State::NotChecked {
                *state = State::Passed;
            }
        }
    }
    states
}

/// Where the attendee is (see [`where_you_are`]).
pub fn current_level() -> u32 {
    let last = parse_last_check(&std::fs::read_to_string(path()).unwrap_or_default());
    let modified = kit::ladder::LADDER
        .iter()
        .filter_map(|level| Some((level.number, last_modified(level)?)))
        .collect();
    where_you_are(&states(), last, &modified)
}

/// The level the attendee is working on: the level crate edited or checked most recently,
/// whatever they skipped. A crate whose files changed after the last check is the one being
/// edited (the newest, when several were); otherwise the crate checked last, or the level after
/// it once it passed. With no check recorded: the first level not passed. `modified` is each
/// level crate's newest file time, in ns since the epoch.
pub fn where_you_are(
    states: &BTreeMap<u32, State>,
    last: Option<LastCheck>,
    modified: &BTreeMap<u32, u128>,
) -> u32 {
    let top = kit::ladder::LADDER.last().map_or(0, |l| l.number);
    let Some(last) = last else {
        return kit::ladder::LADDER
            .iter()
            .map(|l| l.number)
            .find(|n| states.get(n) != Some(&State::Passed))
            .unwrap_or(top);
    };
    let edited_since = modified
        .iter()
        .filter(|(_, at)| **at > last.at)
        .max_by_key(|(number, at)| (**at, **number));
    match edited_since {
        Some((&number, _)) => number,
        None if states.get(&last.level) == Some(&State::Passed) => (last.level + 1).min(top),
        None => last.level,
    }
}

/// The newest modification time of a level crate's files (its `Cargo.toml` and `src/`).
fn last_modified(level: &kit::ladder::Level) -> Option<u128> {
    let dir = kit::paths::workspace_root().join("levels").join(level.dir);
    let mut files = vec![dir.join("Cargo.toml")];
    files_under(&dir.join("src"), &mut files);
    files
        .iter()
        .filter_map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .map(nanos)
        .max()
}

/// Records the results of the attendee's own levels (never of solutions or other runtimes),
/// each with the fingerprint its files had when it was built, and which crate was checked last
/// and when its files were read.
pub fn record(
    results: &BTreeMap<u32, (&'static str, String)>,
    last: Option<(u32, std::time::SystemTime)>,
) {
    let text = std::fs::read_to_string(path()).unwrap_or_default();
    let last = last
        .map(|(level, at)| LastCheck {
            level,
            at: nanos(at),
        })
        .or_else(|| parse_last_check(&text));
    let mut all = parse(&text);
    for (level, (result, fingerprint)) in results {
        all.insert(
            *level,
            Record {
                result: result.to_string(),
                fingerprint: fingerprint.clone(),
            },
        );
    }
    let mut text: String = all
        .iter()
        .map(|(level, r)| format!("level{level} {} {}\n", r.result, r.fingerprint))
        .collect();
    if let Some(last) = last {
        text.push_str(&format!("checked level{} {}\n", last.level, last.at));
    }
    let _ = std::fs::create_dir_all(crate::prepare::checker_home());
    let _ = std::fs::write(path(), text);
}

/// A hash of the level's `Cargo.toml` and every file under its `src/`, names included.
pub fn fingerprint(level: &kit::ladder::Level) -> String {
    fingerprint_of(&kit::paths::workspace_root().join("levels").join(level.dir))
}

fn fingerprint_of(dir: &Path) -> String {
    let mut files = vec![dir.join("Cargo.toml")];
    files_under(&dir.join("src"), &mut files);
    files.sort();
    let mut hash: u64 = 0xcbf29ce484222325;
    for file in files {
        let name = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .display()
            .to_string();
        let content = std::fs::read(&file).unwrap_or_default();
        for byte in name.bytes().chain([0]).chain(content).chain([0]) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x100000001b3);
        }
    }
    format!("{hash:016x}")
}

fn files_under(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => files_under(&path, files),
            Ok(t) if t.is_file() => files.push(path),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_counts_only_while_the_files_are_unchanged() {
        let records = parse("level0 pass aaaa\nlevel1 fail bbbb\nlevel2 pass\nnonsense\n");
        assert_eq!(state_of(records.get(&0), "aaaa"), State::Passed);
        assert_eq!(state_of(records.get(&0), "cccc"), State::NotChecked);
        assert_eq!(state_of(records.get(&1), "bbbb"), State::Failed);
        // A line from before fingerprints were recorded proves nothing.
        assert_eq!(state_of(records.get(&2), "dddd"), State::NotChecked);
        assert_eq!(state_of(records.get(&3), "eeee"), State::NotChecked);
    }

    #[test]
    fn a_passed_level_counts_the_levels_below_it_that_were_not_checked() {
        use State::*;
        let states = BTreeMap::from([
            (0, NotChecked),
            (1, Failed),
            (2, NotChecked),
            (3, Passed),
            (4, NotChecked),
        ]);
        let states: Vec<State> = with_levels_below_a_pass(states).into_values().collect();
        assert_eq!(states, [Passed, Failed, Passed, Passed, NotChecked]);
    }

    #[test]
    fn you_are_where_you_last_edited_or_checked_whatever_you_skipped() {
        use State::*;
        let top = kit::ladder::LADDER.last().unwrap().number;
        let checked = |level, at| Some(LastCheck { level, at });
        // Every crate as checked out, the top level checked (and passed) at time 100.
        let pristine: BTreeMap<u32, u128> = (0..=top).map(|n| (n, 50)).collect();
        let passed_all: BTreeMap<u32, State> = (0..=top).map(|n| (n, Passed)).collect();
        assert_eq!(
            where_you_are(&passed_all, checked(top, 100), &pristine),
            top
        );
        // Level 10 edited since: its files no longer passed, and nothing below was checked on
        // its own. Still level 10, not level 0.
        let mut edited = pristine.clone();
        edited.insert(10, 150);
        let nothing: BTreeMap<u32, State> = (0..=top).map(|n| (n, NotChecked)).collect();
        assert_eq!(where_you_are(&nothing, checked(10, 100), &edited), 10);
        // A check of level 3 passed, nothing edited since: on to level 4.
        let mut passed_3 = nothing.clone();
        for n in 0..=3 {
            passed_3.insert(n, Passed);
        }
        assert_eq!(where_you_are(&passed_3, checked(3, 100), &pristine), 4);
        // It failed: still level 3, even with level 1 never passed.
        let mut failed_3 = nothing.clone();
        failed_3.insert(3, Failed);
        assert_eq!(where_you_are(&failed_3, checked(3, 100), &pristine), 3);
        // Level 7 edited after that check: level 7, the most recent of two edits.
        let mut two_edits = pristine.clone();
        two_edits.insert(5, 120);
        two_edits.insert(7, 130);
        assert_eq!(where_you_are(&failed_3, checked(3, 100), &two_edits), 7);
        // Nothing checked yet: the first level not passed, as before.
        assert_eq!(where_you_are(&nothing, None, &edited), 0);
        assert_eq!(where_you_are(&passed_3, None, &pristine), 4);
    }

    #[test]
    fn the_last_check_is_one_line_of_the_progress_file() {
        let text = "level3 pass aaaa\nchecked level3 1700000000123456789\nlevel4 fail bbbb\n";
        assert_eq!(
            parse_last_check(text),
            Some(LastCheck {
                level: 3,
                at: 1_700_000_000_123_456_789
            })
        );
        assert_eq!(parse(text).len(), 2, "not a level's record");
        assert_eq!(parse_last_check("level3 pass aaaa\n"), None);
    }

    #[test]
    fn the_fingerprint_changes_with_the_level_files() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "[package]\n").unwrap();
        std::fs::write(src.join("main.rs"), "fn main() {}\n").unwrap();
        let first = fingerprint_of(dir.path());
        assert_eq!(fingerprint_of(dir.path()), first, "stable");
        std::fs::write(src.join("main.rs"), "fn main() { todo!() }\n").unwrap();
        let edited = fingerprint_of(dir.path());
        assert_ne!(edited, first, "an edit");
        std::fs::write(src.join("mounts.rs"), "").unwrap();
        assert_ne!(
            fingerprint_of(dir.path()),
            edited,
            "a new (even empty) file"
        );
    }
}
