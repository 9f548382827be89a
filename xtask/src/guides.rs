//! The level guides and the skeletons must tell the same story: every `TODO(level N) step K` in
//! `levels/<dir>/src/main.rs` is step K of "Your task" in `levels/<dir>/README.md`, and the guide
//! has the sections every guide has.

use kit::ladder::LADDER;
use std::collections::BTreeSet;
use std::path::PathBuf;

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

fn root() -> PathBuf {
    kit::paths::workspace_root()
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

/// The imports of a Rust file, one full path each: `use a::{b, c};` gives `a::b` and `a::c`.
pub(crate) fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut statement = String::new();
    for line in code.lines().map(str::trim) {
        if statement.is_empty() && !line.starts_with("use ") {
            continue;
        }
        statement.push_str(line);
        if line.ends_with(';') {
            found.extend(expand_use(&statement));
            statement.clear();
        }
    }
    found
}

/// `use a::b::{c, d};` as `a::b::c` and `a::b::d`.
fn expand_use(statement: &str) -> Vec<String> {
    let body = statement
        .trim()
        .trim_start_matches("use ")
        .trim_end_matches(';')
        .replace(char::is_whitespace, "");
    match body.split_once('{') {
        Some((prefix, rest)) => rest
            .trim_end_matches('}')
            .split(',')
            .filter(|name| !name.is_empty())
            .map(|name| format!("{prefix}{name}"))
            .collect(),
        None => vec![body],
    }
}

/// The `use …;` spans of a guide's "Your task", as (imports to add, imports to delete): a span
/// belongs to the nearest "add" or "delete" before it.
pub(crate) fn guide_imports(guide: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let task = guide
        .split("## Your task")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap_or("")
        .replace('\n', " ");
    let (mut add, mut delete) = (BTreeSet::new(), BTreeSet::new());
    for (at, _) in task.match_indices("`use ") {
        let Some(end) = task[at + 1..].find('`') else {
            continue;
        };
        let span = &task[at + 1..at + 1 + end];
        let before = task[..at].to_lowercase();
        let verb_at = |verb: &str| before.rfind(verb).map_or(-1, |i| i as i64);
        let target = if verb_at("delete") > verb_at("add") {
            &mut delete
        } else {
            &mut add
        };
        target.extend(expand_use(span));
    }
    (add, delete)
}

/// What following a guide's import instructions literally does to its skeleton: nothing
/// imported twice (E0252), nothing deleted that is not there, and the result imports exactly
/// what the solution does (an import the solution has and the guide never mentions would leave
/// the attendee with an error to guess at; one the solution lacks would be unused).
fn import_problems(dir: &str, guide: &str, skeleton: &str, solution: &str) -> Vec<String> {
    let (add, delete) = guide_imports(guide);
    let (skeleton, solution) = (imports(skeleton), imports(solution));
    let mut problems = Vec::new();
    for path in add.intersection(&skeleton) {
        problems.push(format!(
            "levels/{dir}/README.md says to add `use {path}`, already imported by the skeleton (E0252)"
        ));
    }
    for path in delete.difference(&skeleton) {
        problems.push(format!(
            "levels/{dir}/README.md says to delete `use {path}`, which the skeleton does not import"
        ));
    }
    let followed: BTreeSet<String> = skeleton
        .union(&add)
        .filter(|p| !delete.contains(*p))
        .cloned()
        .collect();
    for path in solution.difference(&followed) {
        problems.push(format!(
            "levels/{dir}/README.md never says to add `use {path}`, which the solution needs"
        ));
    }
    for path in followed.difference(&solution) {
        problems.push(format!(
            "following levels/{dir}/README.md leaves `use {path}`, which the solution does not use"
        ));
    }
    problems
}

#[test]
fn every_guides_imports_fit_its_skeleton() {
    let mut problems = Vec::new();
    for level in LADDER {
        let read = |path: std::path::PathBuf| std::fs::read_to_string(path).unwrap_or_default();
        let guide = read(root().join("levels").join(level.dir).join("README.md"));
        let skeleton = read(root().join("levels").join(level.dir).join("src/main.rs"));
        let solution = read(root().join("solutions").join(level.dir).join("src/main.rs"));
        problems.extend(import_problems(level.dir, &guide, &skeleton, &solution));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn an_import_the_skeleton_has_is_caught() {
    let guide = "## Your task\n\nAdd `use nix::errno::Errno;` and\n`use std::os::fd::AsRawFd;`. Then delete\n`use nix::unistd::chroot;`.\n\n## Hints\n";
    let skeleton = "use nix::errno::Errno;\nuse nix::unistd::chroot;\n";
    let solution = "use nix::errno::Errno;\nuse std::os::fd::AsRawFd;\n";
    assert_eq!(
        import_problems("06-net-ns", guide, skeleton, solution),
        ["levels/06-net-ns/README.md says to add `use nix::errno::Errno`, already imported by the skeleton (E0252)"]
    );
    let fixed = guide.replace("`use nix::errno::Errno;` and\n", "");
    assert!(import_problems("06-net-ns", &fixed, skeleton, solution).is_empty());
    assert_eq!(
        expand_use("use nix::mount::{\n    mount, MsFlags,\n};"),
        ["nix::mount::mount", "nix::mount::MsFlags"]
    );
}

/// Level 0's guide once asked for `CString`, which an attendee's `let argv = kit::c_strings(..)`
/// never names: the solution's imports are exactly those its code uses (the generator gives each
/// file only those), so an import the guide asks for beyond them is reported.
#[test]
fn an_import_the_solution_does_not_use_is_caught() {
    let guide = "## Your task\n\nAdd `use std::ffi::{CString, OsString};`.\n\n## Hints\n";
    let (skeleton, solution) = (
        "use kit::prelude::*;\n",
        "use kit::prelude::*;\nuse std::ffi::OsString;\n",
    );
    assert_eq!(
        import_problems("00-fork-exec", guide, skeleton, solution),
        ["following levels/00-fork-exec/README.md leaves `use std::ffi::CString`, which the solution does not use"]
    );
}
