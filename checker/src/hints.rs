//! Progressive hints: `checker hint level3` shows the next hint of level 3 each time it is asked
//! (first a nudge, then the calls to make, then the shape of the code). The hints are the
//! "Hints" section of the level's guide, so the guide and the checker never disagree; how many
//! were shown is kept per level in a plain-text file beside the progress file.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The hints of a level, in order, from its guide (`**Hint N.** text`, up to the next section).
pub fn of_level(level: &kit::ladder::Level) -> Result<Vec<String>> {
    let guide = kit::paths::workspace_root()
        .join("levels")
        .join(level.dir)
        .join("README.md");
    let text = std::fs::read_to_string(&guide)
        .with_context(|| format!("reading the guide {}", guide.display()))?;
    let hints = parse(&text);
    anyhow::ensure!(
        !hints.is_empty(),
        "{} has no \"## Hints\" section with **Hint 1.**",
        guide.display()
    );
    Ok(hints)
}

/// The `**Hint N.**` paragraphs of the guide's "## Hints" section, without their labels.
pub fn parse(guide: &str) -> Vec<String> {
    let Some(section) = guide.split("\n## Hints").nth(1) else {
        return Vec::new();
    };
    let section = section.split("\n## ").next().unwrap_or("");
    let mut hints = Vec::new();
    for part in section.split("**Hint ").skip(1) {
        // `1.** text...`: drop the number and the closing stars.
        if let Some((_, text)) = part.split_once(".**") {
            hints.push(text.trim().to_string());
        }
    }
    hints
}

fn state_path() -> PathBuf {
    crate::prepare::checker_home().join("hints")
}

/// How many hints of each level were shown.
fn shown() -> BTreeMap<u32, usize> {
    std::fs::read_to_string(state_path())
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (level, count) = line.split_once(' ')?;
            Some((
                level.strip_prefix("level")?.parse().ok()?,
                count.trim().parse().ok()?,
            ))
        })
        .collect()
}

fn save(shown: &BTreeMap<u32, usize>) -> Result<()> {
    let text: String = shown
        .iter()
        .map(|(level, count)| format!("level{level} {count}\n"))
        .collect();
    std::fs::create_dir_all(crate::prepare::checker_home())?;
    std::fs::write(state_path(), text).context("saving which hints were shown")
}

/// What `checker hint` prints: the next hint of `level` (the last one again once all were
/// shown), or every hint with `all`.
pub fn next(level: &kit::ladder::Level, all: bool) -> Result<String> {
    let hints = of_level(level)?;
    let total = hints.len();
    let heading = |n: usize| {
        format!(
            "Hint {n} of {total}, level {} ({})",
            level.number, level.title
        )
    };
    if all {
        let text: Vec<String> = hints
            .iter()
            .enumerate()
            .map(|(i, hint)| format!("{}\n\n{hint}", heading(i + 1)))
            .collect();
        return Ok(text.join("\n\n"));
    }
    let mut state = shown();
    let seen = state.get(&level.number).copied().unwrap_or(0);
    let n = (seen + 1).min(total);
    state.insert(level.number, n);
    save(&state)?;
    let after = if n < total {
        format!(
            "Stuck still? `cargo run -p checker -- hint level{}` again gives hint {}.",
            level.number,
            n + 1
        )
    } else {
        format!(
            "That was the last hint. The guide (levels/{}/README.md) has the background, and the solution runs with `cargo run -p checker -- level{} --solution`.",
            level.dir, level.number
        )
    };
    Ok(format!("{}\n\n{}\n\n{after}", heading(n), hints[n - 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE: &str = "# Level 9\n\n## Hints\n\n**Hint 1.** Look at the mounts.\n\n**Hint 2.** Call `mount(2)`:\n\n```rust\nmount(...)\n```\n\n## Going further\n\n**Hint 4.** not a hint\n";

    #[test]
    fn hints_are_the_numbered_paragraphs_of_the_hints_section() {
        assert_eq!(
            parse(GUIDE),
            [
                "Look at the mounts.",
                "Call `mount(2)`:\n\n```rust\nmount(...)\n```"
            ]
        );
        assert!(parse("# no hints here\n").is_empty());
    }

    #[test]
    fn every_level_has_a_nudge_the_calls_and_the_shape_of_the_code() {
        for level in kit::ladder::LADDER {
            let hints = of_level(level).unwrap();
            assert!(
                hints.len() >= 3,
                "level {} has {} hints",
                level.number,
                hints.len()
            );
            assert!(
                hints.last().unwrap().contains("```"),
                "level {}: the last hint shows the shape of the code",
                level.number
            );
        }
    }
}
