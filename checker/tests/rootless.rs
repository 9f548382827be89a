//! Without root: the checker explains what to run, and `--rootless` checks the levels that can
//! run in a user namespace, as an unprivileged user, on a checkout that root built, writing only
//! to a directory that user owns.

mod common;
use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Output;

/// The unprivileged user the tests become (nobody).
const USER: u32 = 65534;

/// Runs the checker as `USER`, with `home` as its HOME, through setpriv(1).
fn as_user(home: &Path, args: &[&str]) -> Output {
    let checker = assert_cmd::cargo::cargo_bin("checker");
    let id = USER.to_string();
    std::process::Command::new("setpriv")
        .args(["--reuid", &id, "--regid", &id, "--clear-groups"])
        .arg(&checker)
        .args(args)
        .env("HOME", home)
        .env_remove("RUBBER_CRAB_HOME")
        .env_remove("XDG_CACHE_HOME")
        .env("NO_COLOR", "1")
        .output()
        .expect("running setpriv")
}

/// A HOME that `USER` owns, inside a root-owned temp dir the test removes.
fn users_home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::chown(dir.path(), Some(USER), Some(USER)).unwrap();
    dir
}

fn setpriv_or_skip(test: &str) -> bool {
    if !root_or_skip(test) {
        return false;
    }
    let found = std::process::Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        eprintln!("skipped {test}: setpriv (util-linux) is not installed");
        return false;
    }
    // The checkout must be readable by that user (it is not under a private home like /root).
    let checker = assert_cmd::cargo::cargo_bin("checker");
    let id = USER.to_string();
    let reachable = std::process::Command::new("setpriv")
        .args([
            "--reuid",
            &id,
            "--regid",
            &id,
            "--clear-groups",
            "/bin/sh",
            "-c",
        ])
        .arg("test -x \"$0\" && test -r \"$1\"")
        .arg(&checker)
        .arg(workspace_root().join("levels/README.md"))
        .status()
        .is_ok_and(|s| s.success());
    if !reachable {
        eprintln!(
            "skipped {test}: user {USER} cannot reach {} (is the checkout under a private directory?)",
            checker.display()
        );
    }
    reachable
}

/// Files under the workspace's target/ that `USER` created: there must be none.
fn written_by_user_in_target() -> Vec<String> {
    fn walk(dir: &Path, depth: u32, found: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.uid() == USER {
                found.push(entry.path().display().to_string());
            }
            if meta.is_dir() && depth > 0 {
                walk(&entry.path(), depth - 1, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(&workspace_root().join("target"), 3, &mut found);
    found
}

#[test]
fn not_root_explains_and_offers_rootless() {
    if !setpriv_or_skip("not_root_explains_and_offers_rootless") {
        return;
    }
    let home = users_home();
    let out = as_user(home.path(), &["level3"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("needs root") && err.contains("sudo"), "{err}");
    if checker::sandbox::user_namespaces_allowed().is_ok() {
        assert!(
            err.contains("level3 --rootless"),
            "offers --rootless: {err}"
        );
    }
}

#[test]
fn rootless_checks_every_level_as_an_unprivileged_user() {
    if !setpriv_or_skip("rootless_checks_every_level_as_an_unprivileged_user") {
        return;
    }
    if !user_namespaces_or_skip("rootless_checks_every_level_as_an_unprivileged_user") {
        return;
    }
    // Root builds everything first, as CI and an instructor's machine would.
    let probe = checker::prepare::build_probe().unwrap();
    assert!(probe.is_file());
    let runtime = checker::prepare::build_runtime("solution7").unwrap();
    let home = users_home();
    let before = host();
    let out = as_user(
        home.path(),
        &[
            "level7",
            "--rootless",
            "--runtime",
            runtime.to_str().unwrap(),
        ],
    );
    assert_eq!(host(), before, "the rootless run changed the host");
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total: usize = (0..=7).map(|l| checker::levels::checks(l).len()).sum();
    assert!(
        text.contains(&format!("{total} passed, 0 failed, 0 skipped")),
        "{text}"
    );
    assert!(
        text.contains("not root"),
        "says the runs were not caged: {text}"
    );
    // Caches and scratch space went to the user's own ~/.cache, and nothing into target/.
    assert!(home
        .path()
        .join(".cache/rubber-crab/checker/images")
        .is_dir());
    assert_eq!(written_by_user_in_target(), Vec::<String>::new());
}
