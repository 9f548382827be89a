//! A level's last hint is the attendee's last resort: its code, pasted into their skeleton with
//! the imports "Your task" lists, must compile. Each level's skeleton is copied into a crate of
//! its own with those imports added and the last hint's ```rust code appended as items, and all
//! of them are built by one `cargo build` (a workspace of their own, offline, with this
//! workspace's lock file). A hint that is a sketch with holes (`/* ... */`, statements out of
//! their function) is listed in [`SKETCHES`], and must not compile: the list cannot go stale.

use kit::ladder::LADDER;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Levels whose last hint is a sketch, not code to paste: holes to fill, or statements shown out
/// of the function they go in.
const SKETCHES: &[u32] = &[0, 2, 5, 6, 7, 13];

fn root() -> PathBuf {
    kit::paths::workspace_root()
}

/// A guide's section `## name`, up to the next section.
fn section<'a>(guide: &'a str, name: &str) -> &'a str {
    guide
        .split(&format!("## {name}\n"))
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap_or("")
}

/// The ```rust blocks of the last `**Hint N.**` of a guide.
pub fn last_hint_code(guide: &str) -> Vec<String> {
    let hints = section(guide, "Hints");
    let Some(at) = hints.rfind("**Hint ") else {
        return Vec::new();
    };
    let mut blocks = Vec::new();
    let mut rest = &hints[at..];
    while let Some(start) = rest.find("```rust\n") {
        let body = &rest[start + "```rust\n".len()..];
        let Some(end) = body.find("```") else { break };
        blocks.push(body[..end].to_string());
        rest = &body[end..][3..];
    }
    blocks
}

/// The skeleton's `main.rs` with `imports` added after its first `use` and `code` appended.
fn pasted(skeleton: &str, imports: &BTreeSet<String>, code: &str) -> String {
    let uses: String = imports
        .iter()
        .map(|path| format!("use {path};\n"))
        .collect();
    let at = skeleton.find("\nuse ").map_or(0, |i| i + 1);
    format!(
        "{}{uses}{}\n// The last hint of the guide:\n{code}",
        &skeleton[..at],
        &skeleton[at..]
    )
}

/// A crate `hint-levelN` in `dir`: the level's skeleton files, its main.rs pasted.
fn write_crate(dir: &Path, level: &kit::ladder::Level, main: &str) {
    let from = root().join("levels").join(level.dir).join("src");
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    for entry in std::fs::read_dir(&from).unwrap().flatten() {
        std::fs::copy(entry.path(), src.join(entry.file_name())).unwrap();
    }
    std::fs::write(src.join("main.rs"), main).unwrap();
    let manifest = format!(
        "[package]\nname = \"hint-level{}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\nkit = {{ path = {:?} }}\nanyhow = \"1\"\nnix = {{ version = \"0.29\", features = [\"process\", \"sched\", \"mount\", \"fs\", \"hostname\", \"signal\", \"user\", \"term\", \"dir\", \"inotify\"] }}\nlibc = \"0.2\"\n",
        level.number,
        root().join("kit").display().to_string()
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
}

/// The crates whose build failed, from cargo's "could not compile `hint-levelN`" lines.
fn failed_levels(stderr: &str) -> BTreeSet<u32> {
    stderr
        .lines()
        .filter_map(|line| line.split("could not compile `hint-level").nth(1))
        .filter_map(|rest| rest.split('`').next()?.parse().ok())
        .collect()
}

#[test]
fn every_last_hint_compiles_pasted_into_its_skeleton() {
    let work = root().join("target/hint-code");
    let _ = std::fs::remove_dir_all(work.join("crates"));
    let mut members = Vec::new();
    let mut problems = Vec::new();
    for level in LADDER {
        let dir = root().join("levels").join(level.dir);
        let guide = std::fs::read_to_string(dir.join("README.md")).unwrap();
        let skeleton = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        let code = last_hint_code(&guide);
        if code.is_empty() {
            problems.push(format!(
                "levels/{}/README.md: the last hint has no ```rust code",
                level.dir
            ));
            continue;
        }
        let (add, _) = crate::guides::guide_imports(&guide);
        let have = crate::guides::imports(&skeleton);
        let add: BTreeSet<String> = add.difference(&have).cloned().collect();
        let name = format!("level{}", level.number);
        write_crate(
            &work.join("crates").join(&name),
            level,
            &pasted(&skeleton, &add, &code.join("\n")),
        );
        members.push(format!("\"crates/{name}\""));
    }
    std::fs::write(
        work.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    )
    .unwrap();
    std::fs::copy(root().join("Cargo.lock"), work.join("Cargo.lock")).unwrap();
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--offline", "--keep-going", "--workspace"])
        .arg("--manifest-path")
        .arg(work.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", work.join("target"))
        .env("RUSTFLAGS", "--cap-lints=warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let failed = failed_levels(&stderr);
    if !out.status.success() && failed.is_empty() {
        problems.push(format!("cargo build failed:\n{stderr}"));
    }
    let sketches: BTreeSet<u32> = SKETCHES.iter().copied().collect();
    for level in failed.difference(&sketches) {
        problems.push(format!(
            "level {level}'s last hint does not compile pasted into its skeleton (target/hint-code/crates/level{level})"
        ));
    }
    for level in sketches.difference(&failed) {
        problems.push(format!(
            "level {level}'s last hint compiles now: take it off SKETCHES"
        ));
    }
    assert!(problems.is_empty(), "{}\n{stderr}", problems.join("\n"));
}

#[test]
fn the_last_hints_code_is_read_and_pasted_after_the_imports() {
    let guide = "## Hints\n\n**Hint 1.** a\n\n```rust\nfn first() {}\n```\n\n**Hint 2.** b\n\n```rust\nfn last() {}\n```\n\nand\n\n```rust\nconst X: u8 = 1;\n```\n\n## Going further\n\n```rust\nfn no() {}\n```\n";
    assert_eq!(
        last_hint_code(guide),
        ["fn last() {}\n", "const X: u8 = 1;\n"]
    );
    let main = pasted(
        "//! doc\n\nmod earlier;\n\nuse earlier::*;\nfn main() {}\n",
        &BTreeSet::from(["std::path::Path".to_string()]),
        "fn last() {}\n",
    );
    assert_eq!(
        main,
        "//! doc\n\nmod earlier;\n\nuse std::path::Path;\nuse earlier::*;\nfn main() {}\n\n// The last hint of the guide:\nfn last() {}\n"
    );
    assert_eq!(
        failed_levels("error: could not compile `hint-level9` (bin \"hint-level9\") due to 1 previous error\nerror: could not compile `hint-level10` (bin)"),
        BTreeSet::from([9, 10])
    );
}
