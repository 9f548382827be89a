//! The attendee's progress: one line per level with its last result, in a plain-text file
//! (`target/rubber-crab/checker/progress`) that `checker list` reads.

use std::collections::BTreeMap;
use std::path::PathBuf;

fn path() -> PathBuf {
    crate::prepare::checker_home().join("progress")
}

/// Last known result per level: `pass` or `fail`.
pub fn load() -> BTreeMap<u32, String> {
    std::fs::read_to_string(path())
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (level, result) = line.split_once(' ')?;
            Some((
                level.strip_prefix("level")?.parse().ok()?,
                result.trim().to_string(),
            ))
        })
        .collect()
}

/// Records the results of the attendee's own levels (never of solutions or other runtimes).
pub fn record(results: &BTreeMap<u32, &'static str>) {
    let mut all = load();
    for (level, result) in results {
        all.insert(*level, result.to_string());
    }
    let text: String = all
        .iter()
        .map(|(level, result)| format!("level{level} {result}\n"))
        .collect();
    let _ = std::fs::create_dir_all(crate::prepare::checker_home());
    let _ = std::fs::write(path(), text);
}
