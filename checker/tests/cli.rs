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
    let out = run(&["level99"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("unknown level \"level99\"") && err.contains("level0 to level13"),
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
    // kit::main parses the command line, so even the untouched skeleton refuses a bad size.
    let failed = checks.iter().filter(|c| c["id"] != "L0.input.bad-size");
    for check in failed {
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
    assert_eq!(doc["summary"]["failed"], checks.len() - 1);
    // What an instructor collecting a room's reports needs.
    assert_eq!(doc["exit_code"], 1);
    assert_eq!(doc["guide"], "levels/00-fork-exec/README.md");
    assert!(doc["duration_ms"].as_u64().unwrap() > 0);
    assert_eq!(doc["rootless"], false);
    let kernel = nix::sys::utsname::uname().unwrap();
    assert_eq!(doc["host"]["kernel"], kernel.release().to_str().unwrap());
    assert!(["v1", "v2", "hybrid", "none"].contains(&doc["host"]["cgroups"].as_str().unwrap()));
    assert!(doc["host"]["cage"].is_string());
    assert!(
        checks.iter().any(|c| c["output"]["stderr"].is_string()),
        "the learner's output is in the report"
    );
}

/// `checker` with its state (progress, hints) in a directory of the test's own.
fn run_at_home(home: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let out = assert_cmd::Command::cargo_bin("checker")
        .unwrap()
        .args(args)
        .env("NO_COLOR", "1")
        .env("RUBBER_CRAB_HOME", home)
        .output()
        .unwrap();
    (out.status.code(), stdout(&out))
}

#[test]
fn hints_come_one_at_a_time_and_all_at_once() {
    let home = tempfile::tempdir().unwrap();
    let hint = |args: &[&str]| run_at_home(home.path(), args);
    let (code, first) = hint(&["hint", "level3"]);
    assert_eq!(code, Some(0));
    assert!(first.starts_with("Hint 1 of 3, level 3"), "{first}");
    assert!(first.contains("hint level3` again gives hint 2"), "{first}");
    assert!(hint(&["hint", "level3"]).1.starts_with("Hint 2 of 3"));
    let last = hint(&["hint", "3"]).1;
    assert!(
        last.starts_with("Hint 3 of 3") && last.contains("last hint"),
        "{last}"
    );
    assert!(
        hint(&["hint", "level3"]).1.starts_with("Hint 3 of 3"),
        "stays on the last"
    );
    // Each level keeps its own count.
    assert!(hint(&["hint", "level1"])
        .1
        .starts_with("Hint 1 of 3, level 1"));
    let all = hint(&["hint", "level3", "--all"]).1;
    for n in 1..=3 {
        assert!(all.contains(&format!("Hint {n} of 3, level 3")), "{all}");
    }
    assert_eq!(hint(&["hint", "level99"]).0, Some(2));
    // Without a level: the first level not passed.
    assert!(hint(&["hint"]).1.starts_with("Hint 1 of 3, level 0"));
}

#[test]
fn list_recomputes_progress_from_the_level_files() {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("checker");
    std::fs::create_dir_all(&state).unwrap();
    let level0 = kit::ladder::level(0).unwrap();
    let level1 = kit::ladder::level(1).unwrap();
    std::fs::write(
        state.join("progress"),
        format!(
            "level0 pass {}\nlevel1 fail {}\nlevel2 pass 0123456789abcdef\n",
            checker::progress::fingerprint(level0),
            checker::progress::fingerprint(level1)
        ),
    )
    .unwrap();
    let (code, text) = run_at_home(home.path(), &["list"]);
    assert_eq!(code, Some(0));
    let line = |n: u32| {
        text.lines()
            .find(|l| l.contains(&format!("level{n} ")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line(0).trim_start().starts_with('✓'), "{text}");
    assert!(line(1).trim_start().starts_with('✗'), "{text}");
    assert!(line(1).contains("you are here"), "{text}");
    // Recorded as passed, but its files are not the ones that passed: not trusted.
    assert!(line(2).trim_start().starts_with('·'), "{text}");
    assert!(text.contains("hint level1"), "what to do next: {text}");
}

#[test]
fn an_attendee_who_started_at_level_6_is_at_level_7_once_it_passes() {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("checker");
    std::fs::create_dir_all(&state).unwrap();
    let level6 = kit::ladder::level(6).unwrap();
    let progress = format!("level6 pass {}\n", checker::progress::fingerprint(level6));
    std::fs::write(state.join("progress"), progress).unwrap();
    let (code, text) = run_at_home(home.path(), &["list"]);
    assert_eq!(code, Some(0));
    let here = text.lines().find(|l| l.contains("you are here"));
    assert!(here.is_some_and(|l| l.contains("level7 ")), "{text}");
    // Level 6 ran the checks of levels 0 to 5 too: they count as passed.
    let level0 = text.lines().find(|l| l.contains("level0 ")).unwrap_or("");
    assert!(level0.trim_start().starts_with('✓'), "{text}");
    let (_, hint) = run_at_home(home.path(), &["hint"]);
    assert!(hint.starts_with("Hint 1 of 3, level 7"), "{hint}");
}

#[test]
fn an_attendee_at_level_10_whose_files_changed_is_still_at_level_10() {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("checker");
    std::fs::create_dir_all(&state).unwrap();
    // Level 10 passed with files that are not today's (edited since), checked after every
    // file's last change: no level passed, yet the attendee is at level 10, not level 0.
    let progress = format!(
        "level10 pass 0123456789abcdef\nchecked level10 {}\n",
        u64::MAX
    );
    std::fs::write(state.join("progress"), progress).unwrap();
    let (code, text) = run_at_home(home.path(), &["list"]);
    assert_eq!(code, Some(0));
    let here = text.lines().find(|l| l.contains("you are here"));
    assert!(here.is_some_and(|l| l.contains("level10 ")), "{text}");
    let (_, hint) = run_at_home(home.path(), &["hint"]);
    assert!(hint.starts_with("Hint 1 of 3, level 10"), "{hint}");
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
    // One check waits out the one-second timeout, the level's others are not run: the timeout,
    // not the hang, bounds the run.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    // Nothing the runtime started survives it. Only this checkout's broken binary counts: another
    // checkout's tests may be running theirs on the same host.
    let ours = std::fs::canonicalize(&runtime).unwrap();
    let leftovers: Vec<u32> = probe::proc::pids()
        .into_iter()
        .filter(|&pid| probe::proc::exe(pid).as_ref() == Some(&ours))
        .collect();
    assert!(leftovers.is_empty(), "still running: {leftovers:?}");
}

/// `checker list`'s output on a terminal (it must say "you are here").
fn list_on_a_terminal(home: &std::path::Path, no_color: bool) -> String {
    let mut terminal = Terminal::open();
    let mut cmd = terminal.checker(&["list"]);
    cmd.env("RUBBER_CRAB_HOME", home);
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let mut list = cmd.spawn().unwrap();
    let shown = terminal.expect("you are here", 10);
    assert!(list.wait().unwrap().success());
    shown + &terminal.rest()
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let home = tempfile::tempdir().unwrap();
    let terminal = list_on_a_terminal(home.path(), false);
    assert!(
        terminal.contains("\x1b["),
        "colour on a terminal:\n{terminal}"
    );
    let no_color = list_on_a_terminal(home.path(), true);
    assert!(
        !no_color.contains('\x1b'),
        "NO_COLOR on a terminal:\n{no_color}"
    );
    let piped = assert_cmd::Command::cargo_bin("checker")
        .unwrap()
        .arg("list")
        .env("RUBBER_CRAB_HOME", home.path())
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let piped = stdout(&piped);
    assert!(piped.contains("you are here"), "{piped}");
    assert!(!piped.contains('\x1b'), "piped:\n{piped}");
}
