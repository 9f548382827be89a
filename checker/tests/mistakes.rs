//! The mistakes test: each `tests/mistakes/*.patch` is a deliberate attendee mistake, a small
//! patch to a generated solution crate. Each is built (all in one cargo build, in a workspace of
//! their own under `target/mistakes`) and checked as `checker levelN --runtime <it>` (no
//! --keep-going); the first failed check a person reads must be the one the file names, and its
//! text (cause, observed or hint) must contain the words the file gives: the fix.
//!
//! File format (see the README of this directory's files: the header, a `---` line, the diff):
//!
//! ```text
//! level: 8
//! first: L8.cpu-cgroup.inside
//! says: wait on the pipe
//! why: the child execs without waiting on the sync pipe
//! ---
//! --- a/solutions/08-cpu-cgroup/src/main.rs
//! +++ b/solutions/08-cpu-cgroup/src/main.rs
//! @@ … (a unified diff, applied with `patch -p1` from the repository's root)
//! ```

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One mistake file.
#[derive(Debug)]
struct Mistake {
    /// The file's name without `.patch`: `02-missing-private`.
    name: String,
    level: u32,
    first: String,
    says: String,
    why: String,
    diff: String,
}

impl Mistake {
    /// The package its variant of the solution is built as: `solution2-02-missing-private`
    /// (kit::main! reads the level from the package's name).
    fn package(&self) -> String {
        format!("solution{}-{}", self.level, self.name)
    }
}

fn parse(name: &str, text: &str) -> Result<Mistake, String> {
    let (header, diff) = text
        .split_once("\n---\n")
        .ok_or("no `---` line between the header and the diff")?;
    let field = |key: &str| {
        header
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or(format!("no `{key}:` line in the header"))
    };
    Ok(Mistake {
        name: name.to_string(),
        level: field("level")?.parse().map_err(|e| format!("level: {e}"))?,
        first: field("first")?,
        says: field("says")?,
        why: field("why")?,
        diff: diff.to_string(),
    })
}

fn mistakes() -> Vec<Mistake> {
    let dir = workspace_root().join("checker/tests/mistakes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "patch"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(path).unwrap();
            parse(&name, &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

/// The solution crate of `level`: `solutions/08-cpu-cgroup`.
fn solution_dir(level: u32) -> String {
    let level = kit::ladder::level(level).unwrap_or_else(|| panic!("no level {level}"));
    format!("solutions/{}", level.dir)
}

/// Copies the files of `from` into `to` (created), recursively.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Writes `text` to `path` unless it already holds it: an unchanged file keeps its mtime, so
/// cargo does not rebuild what did not change.
fn write_if_changed(path: &Path, text: &[u8]) {
    if std::fs::read(path).ok().as_deref() == Some(text) {
        return;
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Mirrors `from` into `to`, writing only what changed and deleting what `from` lacks.
fn sync_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(to).unwrap() {
        let entry = entry.unwrap();
        if !from.join(entry.file_name()).exists() {
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(path).unwrap();
            } else {
                std::fs::remove_file(path).unwrap();
            }
        }
    }
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            sync_tree(&entry.path(), &target);
        } else {
            write_if_changed(&target, &std::fs::read(entry.path()).unwrap());
        }
    }
}

/// The patched copy of the mistake's solution crate, as `ws/<name>/`; Err when the patch no
/// longer applies.
fn prepare(root: &Path, ws: &Path, mistake: &Mistake) -> Result<(), String> {
    let solution = solution_dir(mistake.level);
    let scratch = ws.join(".scratch").join(&mistake.name);
    let _ = std::fs::remove_dir_all(&scratch);
    copy_tree(&root.join(&solution), &scratch.join(&solution));
    let mut child = Command::new("patch")
        .args(["-p1", "--force", "--no-backup-if-mismatch", "--quiet"])
        .arg("--directory")
        .arg(&scratch)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running patch(1)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(mistake.diff.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        return Err(format!(
            "{}: the patch no longer applies to {solution} (the solution changed: refresh the patch): {}{}",
            mistake.name,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let package = ws.join(&mistake.name);
    sync_tree(&scratch.join(&solution).join("src"), &package.join("src"));
    let manifest = std::fs::read_to_string(root.join(&solution).join("Cargo.toml")).unwrap();
    let manifest = manifest.replace(
        &format!("name = \"solution{}\"", mistake.level),
        &format!("name = \"{}\"", mistake.package()),
    );
    write_if_changed(&package.join("Cargo.toml"), manifest.as_bytes());
    Ok(())
}

/// The workspace's manifest: the repository's own, with its members replaced by the mistakes
/// and its path dependencies (kit) made absolute.
fn workspace_manifest(root: &Path, members: &[String]) -> String {
    let original = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let (_, rest) = original
        .split_once("\n[workspace.package]")
        .expect("the root manifest has [workspace.package]");
    let rest = rest.replace(
        "path = \"",
        &format!(
            "path = \"{}/",
            root.display().to_string().trim_end_matches('/')
        ),
    );
    let members: Vec<String> = members.iter().map(|m| format!("    {m:?},\n")).collect();
    format!(
        "# Made by checker/tests/mistakes.rs: one package per attendee mistake.\n[workspace]\nresolver = \"2\"\nmembers = [\n{}]\n\n[workspace.package]{rest}",
        members.concat()
    )
}

/// Builds every mistake's crate in one cargo build; returns each one's executable.
fn build_all(root: &Path, mistakes: &[Mistake]) -> (Vec<(usize, PathBuf)>, Vec<String>) {
    let ws = root.join("target/mistakes/ws");
    std::fs::create_dir_all(&ws).unwrap();
    let mut problems = Vec::new();
    let mut built = Vec::new();
    for (i, mistake) in mistakes.iter().enumerate() {
        match prepare(root, &ws, mistake) {
            Ok(()) => built.push(i),
            Err(problem) => problems.push(problem),
        }
    }
    let members: Vec<String> = built.iter().map(|&i| mistakes[i].name.clone()).collect();
    // Packages of mistakes that are gone are not members any more; their dirs go too.
    for entry in std::fs::read_dir(&ws).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().join("Cargo.toml").exists() && !members.contains(&name) {
            std::fs::remove_dir_all(entry.path()).unwrap();
        }
    }
    write_if_changed(
        &ws.join("Cargo.toml"),
        workspace_manifest(root, &members).as_bytes(),
    );
    // The repository's lock: the same versions, nothing to fetch.
    std::fs::copy(root.join("Cargo.lock"), ws.join("Cargo.lock")).unwrap();
    let target = root.join("target/mistakes/target");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--quiet", "--workspace", "--manifest-path"])
        .arg(ws.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        // A mistake leaves code unused, and CI's -D warnings must not make that an error.
        .env("RUSTFLAGS", "-A warnings")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("running cargo");
    assert!(
        status.success(),
        "the mistakes' crates did not build (cargo's errors above): a patch that compiles no more needs refreshing"
    );
    let exes = built
        .into_iter()
        .map(|i| (i, target.join("debug").join(mistakes[i].package())))
        .collect();
    (exes, problems)
}

/// The text of a check a person reads: its cause, what was observed and the hint.
fn text_of(check: &Value) -> String {
    ["cause", "observed", "hint", "reason"]
        .iter()
        .filter_map(|f| check[f].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn mistakes_file_format() {
    let text = "level: 8\nfirst: L8.x\nsays: wait\nwhy: w\n---\n--- a/x\n+++ b/x\n";
    let m = parse("08-x", text).unwrap();
    assert_eq!(
        (m.level, m.first.as_str(), m.says.as_str()),
        (8, "L8.x", "wait")
    );
    assert_eq!(m.diff, "--- a/x\n+++ b/x\n");
    assert_eq!(m.package(), "solution8-08-x");
    assert!(parse("x", "level: 8\n--- a/x\n").is_err());
    // Every file parses, names a check that exists, and a level its id belongs to.
    for m in mistakes() {
        let level: u32 = m.first[1..]
            .split('.')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{}: first: {} is not a check id", m.name, m.first));
        assert!(
            level <= m.level,
            "{}: {} is not checked by level {}",
            m.name,
            m.first,
            m.level
        );
    }
}

#[test]
fn each_mistakes_first_verdict_names_the_fix() {
    if !root_or_skip("each_mistakes_first_verdict_names_the_fix") {
        return;
    }
    let started = Instant::now();
    let root = workspace_root();
    let mistakes = mistakes();
    let (exes, mut problems) = build_all(&root, &mistakes);
    eprintln!(
        "built {} mistakes in {:.0} s",
        exes.len(),
        started.elapsed().as_secs_f64()
    );
    let mut named = 0;
    for (i, exe) in &exes {
        let mistake = &mistakes[*i];
        let out = checker(&[
            &format!("level{}", mistake.level),
            "--runtime",
            exe.to_str().unwrap(),
            "--format",
            "json",
        ]);
        let doc: Value = serde_json::from_str(&stdout(&out))
            .unwrap_or_else(|e| panic!("{}: not JSON ({e})", mistake.name));
        // JSON lists the checks in the order the human report shows them.
        let first = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["status"] == "fail" || c["status"] == "error");
        let expected = format!("{} saying {:?}", mistake.first, mistake.says);
        let Some(first) = first else {
            problems.push(format!(
                "{} ({}): nothing failed; expected {expected}",
                mistake.name, mistake.why
            ));
            continue;
        };
        let text = text_of(first);
        if first["id"] == mistake.first.as_str()
            && text.to_lowercase().contains(&mistake.says.to_lowercase())
        {
            named += 1;
            continue;
        }
        problems.push(format!(
            "{} ({}): expected {expected}; the first failure is {}:\n    {}",
            mistake.name,
            mistake.why,
            first["id"],
            text.replace('\n', "\n    ")
        ));
    }
    eprintln!(
        "{named} of {} first verdicts name the fix ({:.0} s)",
        mistakes.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
