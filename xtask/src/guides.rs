//! The level guides and the skeletons must tell the same story: every `TODO(level N) step K` in
//! `levels/<dir>/src/main.rs` is step K of "Your task" in `levels/<dir>/README.md`, and the guide
//! has the sections every guide has.

use kit::ladder::LADDER;
use std::collections::BTreeSet;
use std::path::Path;

const SECTIONS: &[&str] = &[
    "## Goal",
    "## Background",
    "## Your task",
    "## Try it by hand",
    "## Check it",
    "## Hints",
    "## Going further",
    "## References",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
}

/// Step numbers of the TODOs in a skeleton.
fn todo_steps(code: &str, level: u32) -> BTreeSet<u32> {
    let marker = format!("TODO(level {level}) step ");
    code.lines()
        .filter_map(|line| line.split_once(&marker))
        .filter_map(|(_, rest)| rest.split(':').next()?.trim().parse().ok())
        .collect()
}

/// Numbers of the top-level numbered items in the guide's "Your task" section.
fn guide_steps(guide: &str) -> BTreeSet<u32> {
    guide
        .split("## Your task")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap_or("")
        .lines()
        .filter_map(|line| line.split_once(". ").and_then(|(n, _)| n.parse().ok()))
        .collect()
}

#[test]
fn every_guide_has_every_section_and_the_skeletons_steps() {
    let mut problems = Vec::new();
    for level in LADDER {
        let dir = root().join("levels").join(level.dir);
        let guide = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
        let code = std::fs::read_to_string(dir.join("src/main.rs")).unwrap_or_default();
        for section in SECTIONS {
            if !guide.contains(section) {
                problems.push(format!("levels/{}/README.md lacks `{section}`", level.dir));
            }
        }
        let (todo, steps) = (todo_steps(&code, level.number), guide_steps(&guide));
        if todo.is_empty() || todo != steps {
            problems.push(format!(
                "levels/{}: TODO steps {todo:?} in src/main.rs but steps {steps:?} under \"Your task\"",
                level.dir
            ));
        }
        if !guide.contains(&format!("cargo run -p checker -- level{}", level.number)) {
            problems.push(format!(
                "levels/{}/README.md does not say how to check it",
                level.dir
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn steps_are_read_from_todos_and_numbered_lists() {
    let code = "// TODO(level 2) step 1: a\n//     more\n    // TODO(level 2) step 2: b\n// TODO(level 1) step 9: no";
    assert_eq!(todo_steps(code, 2), BTreeSet::from([1, 2]));
    let guide = "## Goal\n1. not this\n## Your task\n\n1. Unshare.\n   detail 3. no\n2. Mount.\n\n## Hints\n3. no";
    assert_eq!(guide_steps(guide), BTreeSet::from([1, 2]));
}
