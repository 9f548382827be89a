//! The checker's command line: usage errors, exit codes, JSON schema, not-root advice.

mod common;
use common::*;

fn run(args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("checker")
        .unwrap()
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_unknown_level_is_a_usage_error_naming_the_ladder() {
    let out = run(&["level9"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("unknown level \"level9\"") && err.contains("level0 to level7"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn a_missing_runtime_is_a_usage_error() {
    let out = run(&["level0", "--runtime", "/nonexistent/runtime"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no such file"), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("runtime.txt");
    std::fs::write(&plain, "not a program").unwrap();
    let out = run(&["level0", "--runtime", plain.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not an executable"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    assert_eq!(run(&["level0", "--frobnicate"]).status.code(), Some(2));
    assert_eq!(run(&["level0", "--format", "xml"]).status.code(), Some(2));
    assert_eq!(run(&[]).status.code(), Some(2));
}

#[test]
fn list_shows_the_ladder_and_what_to_do_next() {
    let out = run(&["list"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for level in kit::ladder::LADDER {
        let dir = level.dir;
        assert!(text.contains(dir), "{text}");
    }
    assert!(text.contains("cargo run -p checker -- level"), "{text}");
}

#[test]
fn not_root_exits_3_with_the_command_to_run() {
    if !root_or_skip("not_root_exits_3_with_the_command_to_run") {
        return;
    }
    let checker = assert_cmd::cargo::cargo_bin("checker");
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&checker)
        .args(["level2", "--solution"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("needs root") && err.contains("sudo") && err.contains("level2 --solution"),
        "{err}"
    );
}

#[test]
fn json_output_has_the_documented_schema() {
    if !root_or_skip("json_output_has_the_documented_schema") {
        return;
    }
    let out = checker(&["level0", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "the level-0 skeleton fails");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["target"], "level0");
    assert_eq!(doc["result"], "fail");
    let checks = doc["checks"].as_array().unwrap();
    assert_eq!(checks.len(), checker::levels::checks(0).len());
    for check in checks {
        for field in [
            "id",
            "level",
            "title",
            "status",
            "expected",
            "observed",
            "hint",
            "doc",
            "reproduce",
            "duration_ms",
        ] {
            assert!(
                check.get(field).is_some(),
                "a failed check lacks {field}: {check}"
            );
        }
        assert_eq!(check["level"], 0);
        assert_eq!(check["status"], "fail");
    }
    assert_eq!(doc["summary"]["failed"], checks.len());
}

#[test]
fn a_hanging_runtime_is_killed_at_the_timeout_with_everything_it_started() {
    if !root_or_skip("a_hanging_runtime_is_killed_at_the_timeout_with_everything_it_started") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runtime = broken("hang", dir.path());
    let started = std::time::Instant::now();
    let out = checker(&[
        "level0",
        "--runtime",
        runtime.to_str().unwrap(),
        "--timeout",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let observed: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["observed"].as_str())
        .collect();
    assert!(
        observed
            .iter()
            .any(|o| o.contains("still running at the timeout")),
        "{observed:?}"
    );
    // Seven checks, each given one second: the timeout, not the hang, bounds the run.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    // Nothing the runtime started survives it.
    let leftovers: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path().join("exe")).ok())
        .map(|exe| exe.display().to_string())
        .filter(|exe| exe.ends_with("/broken"))
        .collect();
    assert!(leftovers.is_empty(), "still running: {leftovers:?}");
}
